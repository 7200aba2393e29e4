/**
 * The code list (services/core/errors.ts), the status table (services/http/error-status.ts) and
 * the documentation (docs/errors.md) must name the same codes with the same statuses.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { ERROR_CODES } from '../../services/core/errors.ts';
import { STATUS_BY_CODE, statusOf } from '../../services/http/error-status.ts';

function documentedRows(): Map<string, { status: number; cells: string[] }> {
  const text = readFileSync(path.join(PROJECT_ROOT, 'docs', 'errors.md'), 'utf8');
  const rows = new Map<string, { status: number; cells: string[] }>();
  for (const line of text.split('\n')) {
    const match = /^\|\s*`(EDGE_ERR_[A-Z0-9_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!match) continue;
    const cells = match[2]!.split(/(?<!\\)\|/).map((cell) => cell.trim());
    expect(rows.has(match[1]!), `${match[1]} is documented twice`).toBe(false);
    rows.set(match[1]!, { status: Number(cells[0]), cells });
  }
  return rows;
}

describe('error codes, statuses and docs/errors.md are in step', () => {
  const rows = documentedRows();

  it('documents every code of ERROR_CODES and no other', () => {
    expect([...rows.keys()].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('gives every code a status in the one table, and no stale entry', () => {
    expect(Object.keys(STATUS_BY_CODE).sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) expect(STATUS_BY_CODE[code], code).toBeGreaterThanOrEqual(400);
  });

  it('documents the status the table sets, with a meaning and a fix', () => {
    for (const code of ERROR_CODES) {
      const row = rows.get(code)!;
      expect(row.status, `status of ${code} in docs/errors.md`).toBe(STATUS_BY_CODE[code]);
      expect(row.cells.length, `${code} row needs status | meaning | how to fix`).toBe(3);
      expect(row.cells[1]!.length, `meaning of ${code}`).toBeGreaterThan(10);
      expect(row.cells[2]!.length, `how to fix ${code}`).toBeGreaterThan(10);
    }
  });

  it('BAD CALL - an unknown code maps to 500', () => {
    expect(statusOf('EDGE_ERR_NOT_A_CODE')).toBe(500);
    expect(statusOf('FST_ERR_CTP_BODY_TOO_LARGE')).toBe(500);
  });
});
