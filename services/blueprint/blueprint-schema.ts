/**
 * The structural half of blueprint validation: blueprints/schema/blueprint-v1.schema.json through
 * ajv (all errors, not the first), each ajv error turned into a problem an operator can act on.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { PROJECT_ROOT } from '../core/config.ts';
import type { UnplacedProblem } from './problem.ts';
import { describeValue as show, pointerOf, pointerSegments } from '../core/yaml-document.ts';

export const BLUEPRINT_SCHEMA_FILE = path.join(PROJECT_ROOT, 'blueprints', 'schema', 'blueprint-v1.schema.json');

let compiled: ValidateFunction | undefined;

/** Compiled once per process: the schema is a file of the project, not an input. */
function validator(): ValidateFunction {
  if (compiled === undefined) {
    const schema = JSON.parse(readFileSync(BLUEPRINT_SCHEMA_FILE, 'utf8')) as object;
    // verbose: errors carry the schema around them, from which hints name the allowed fields.
    compiled = new Ajv2020({ allErrors: true, verbose: true, strict: true }).compile(schema);
  }
  return compiled;
}

export function schemaProblems(value: unknown): UnplacedProblem[] {
  const validate = validator();
  if (validate(value)) return [];
  const seen = new Set<string>();
  const problems: UnplacedProblem[] = [];
  for (const error of validate.errors ?? []) {
    // propertyNames reports twice (the name's pattern, then propertyNames itself): keep the first.
    if (error.keyword === 'propertyNames') continue;
    const problem = toProblem(error);
    const key = `${problem.path}\u0000${problem.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(problem);
    }
  }
  return problems;
}

function descriptionOf(schema: unknown): string | undefined {
  return schema !== null && typeof schema === 'object' && typeof (schema as { description?: unknown }).description === 'string'
    ? (schema as { description: string }).description
    : undefined;
}

function propertiesOf(schema: unknown): Record<string, unknown> {
  const properties = schema !== null && typeof schema === 'object' ? (schema as { properties?: unknown }).properties : undefined;
  return properties !== null && typeof properties === 'object' ? (properties as Record<string, unknown>) : {};
}

const DNS_HINT = "use lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (a DNS-1123 label: it becomes a Kubernetes object name)";

function toProblem(error: ErrorObject): UnplacedProblem {
  const at = error.instancePath;
  const described = descriptionOf(error.parentSchema);
  switch (error.keyword) {
    case 'additionalProperty':
    case 'additionalProperties': {
      const field = String((error.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys(propertiesOf(error.parentSchema));
      return {
        path: `${at}${pointerOf([field])}`,
        message: `unknown field "${field}"`,
        hint: allowed.length > 0 ? `remove it or fix its spelling; allowed here: ${allowed.join(', ')}` : 'remove it',
      };
    }
    case 'required': {
      const field = String((error.params as { missingProperty: string }).missingProperty);
      const about = descriptionOf(propertiesOf(error.parentSchema)[field]);
      return { path: at, message: `"${field}" is required here`, hint: `add ${field}${about === undefined ? '' : ` (${about})`}` };
    }
    case 'const':
      return { path: at, message: `must be "${String((error.params as { allowedValue: unknown }).allowedValue)}"; got ${show(error.data)}`, hint: `write ${String((error.params as { allowedValue: unknown }).allowedValue)}` };
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.map(String);
      return { path: at, message: `must be one of ${allowed.join(', ')}; got ${show(error.data)}`, hint: `use one of ${allowed.join(', ')}` };
    }
    case 'uniqueItems': {
      const { i, j } = error.params as { i: number; j: number };
      return { path: `${at}/${Math.max(i, j)}`, message: `${show((error.data as unknown[])[Math.max(i, j)])} is listed twice`, hint: 'remove the duplicate' };
    }
    case 'pattern':
    case 'maxLength':
    case 'minLength': {
      const isDns = error.schemaPath.includes('/dnsLabel/');
      const segments = pointerSegments(at);
      // A label key that breaks propertyNames: error.propertyName names it.
      const property = (error as ErrorObject & { propertyName?: string }).propertyName;
      const where = property === undefined ? at : `${at}${pointerOf([property])}`;
      if (isDns) return { path: where, message: `${show(error.data)} is not a DNS-1123 label`, hint: DNS_HINT };
      const about =
        property !== undefined
          ? "a label key is letters, digits, '-', '_' and '.', at most 63, optionally after a DNS prefix and '/' (e.g. site, example.com/zone)"
          : (described ?? `see the description of ${segments.at(-1) ?? 'this field'} in blueprints/README.md`);
      const what = property !== undefined ? 'is not a valid label key' : (error.message ?? 'is not allowed');
      return { path: where, message: `${show(property ?? error.data)} ${what}`, hint: about };
    }
    default:
      return { path: at, message: `${error.message ?? 'is not allowed'}; got ${show(error.data)}`, hint: described ?? 'see blueprints/README.md for this field' };
  }
}
