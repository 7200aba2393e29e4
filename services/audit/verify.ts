/**
 * Checks a whole audit log, streaming it line by line: every record's hash matches its fields, its
 * seq follows the one before, and its prev is the hash of the one before. An edit, a deletion, a
 * reorder or a garbled line breaks one of these at the first line it touches.
 *
 * What no chain can show is a rewrite of the whole tail with fresh hashes: compare `lastHash` with
 * a copy kept elsewhere for that.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { EdgeError } from '../core/errors.ts';
import { GENESIS_HASH, parseAuditLine } from './audit-log.ts';

export type AuditVerification =
  | { ok: true; records: number; lastHash: string }
  /** records: the good records before the break; line: 1-based line of the break. */
  | { ok: false; records: number; line: number; problem: string };

export async function verifyAuditLog(file: string): Promise<AuditVerification> {
  const input = createReadStream(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  const iterator = lines[Symbol.asyncIterator]();
  let records = 0;
  let lastHash = GENESIS_HASH;
  try {
    for (let line = 1; ; line += 1) {
      const next = await iterator.next();
      if (next.done === true) return { ok: true, records, lastHash };
      const parsed = parseAuditLine(next.value);
      let problem: string | undefined;
      if ('problem' in parsed) {
        problem = parsed.problem;
        // A garbled last line is what a crash mid-write leaves; AuditLog.open() cuts it away.
        if (problem.startsWith('unparsable') && (await iterator.next()).done === true) problem += ' (the last line is incomplete: a write was cut short)';
      } else if (parsed.record.seq !== records) {
        problem =
          records === 0
            ? `the log starts at seq ${parsed.record.seq}, not 0: records before it were removed`
            : `seq ${parsed.record.seq} where ${records} was expected: a record is missing, repeated or out of order`;
      } else if (parsed.record.prev !== lastHash) {
        problem = 'chain broken: prev is not the hash of the record before';
      }
      if (problem !== undefined) return { ok: false, records, line, problem };
      if ('record' in parsed) {
        records += 1;
        lastHash = parsed.record.hash;
      }
    }
  } catch (error) {
    throw new EdgeError('EDGE_ERR_AUDIT_LOG_INVALID', `cannot read the audit log ${file}: ${(error as Error).message}`, { details: { file }, cause: error });
  } finally {
    lines.close();
    input.destroy();
  }
}
