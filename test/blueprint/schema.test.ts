/**
 * The blueprint schema is documentation too: every property and definition says what it is for,
 * and the schema is itself valid JSON Schema 2020-12 (ajv compiles it in strict mode).
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { BLUEPRINT_SCHEMA_FILE } from '../../services/blueprint/blueprint-schema.ts';

const schema = JSON.parse(readFileSync(BLUEPRINT_SCHEMA_FILE, 'utf8')) as Record<string, unknown>;

/** Paths of every property and $defs entry without a description. */
function undocumented(node: unknown, at: string, out: string[]): string[] {
  if (node === null || typeof node !== 'object') return out;
  const record = node as Record<string, unknown>;
  for (const key of ['properties', '$defs'] as const) {
    const children = record[key];
    if (children === null || typeof children !== 'object') continue;
    for (const [name, child] of Object.entries(children as Record<string, unknown>)) {
      const childPath = `${at}/${key}/${name}`;
      if (typeof (child as { description?: unknown }).description !== 'string') out.push(childPath);
      undocumented(child, childPath, out);
    }
  }
  for (const key of ['items', 'additionalProperties'] as const) undocumented(record[key], `${at}/${key}`, out);
  return out;
}

describe('blueprint schema', () => {
  it('compiles as strict JSON Schema 2020-12 and pins apiVersion and kind', () => {
    const validate = new Ajv2020({ strict: true, allErrors: true }).compile(schema);
    expect(validate({ apiVersion: 'mec.blueprints/v1', kind: 'Blueprint' })).toBe(false);
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    const properties = schema.properties as Record<string, { const?: string }>;
    expect(properties.apiVersion?.const).toBe('mec.blueprints/v1');
    expect(properties.kind?.const).toBe('Blueprint');
  });

  it('BAD CALL - a property without a description would fail here: there are none', () => {
    expect(undocumented(schema, '#', [])).toEqual([]);
    // The walk finds undocumented fields when there are some.
    expect(undocumented({ properties: { a: { type: 'string' }, b: { description: 'x', properties: { c: {} } } } }, '#', [])).toEqual(['#/properties/a', '#/properties/b/properties/c']);
  });
});
