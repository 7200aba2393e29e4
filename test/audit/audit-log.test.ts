/**
 * The hash-chained audit log on real files: what a record holds (and never holds), resuming after
 * a restart or a crash mid-write, batching and its bound, and verifyAuditLog against each kind of
 * tampering: an edited field, a deleted line, swapped lines, a forged hash, a garbled line.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuditLog, GENESIS_HASH, canonicalJson, recordHash, type AuditEntry, type AuditRecord } from '../../services/audit/audit-log.ts';
import { verifyAuditLog } from '../../services/audit/verify.ts';
import { registerAuditCommands } from '../../services/cli/audit.ts';
import { codeOf } from '../support/code-of.ts';

let scratch = '';
let fileCount = 0;
const opened: AuditLog[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'mec-audit-'));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((log) => log.close()));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function freshFile(): string {
  fileCount += 1;
  return path.join(scratch, `log-${fileCount}`, 'audit.jsonl');
}

async function openLog(file: string, options?: Parameters<typeof AuditLog.open>[1]): Promise<AuditLog> {
  const log = await AuditLog.open(file, options);
  opened.push(log);
  return log;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function entry(n: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    tenant: n % 2 === 0 ? 'acme-health' : null,
    dataClass: 'internal',
    tier: n % 3 === 0 ? 'cloud' : 'mec',
    task: 'detect',
    model: 'centernet',
    reason: `decision ${n}: lowest predicted latency`,
    policyVersion: 'default@3',
    payloadSha256: sha256(`payload ${n}`),
    ...overrides,
  };
}

/** A log of `count` records, closed, and its lines. */
async function writtenLog(count: number): Promise<{ file: string; lines: string[] }> {
  const file = freshFile();
  const log = await openLog(file);
  await Promise.all(Array.from({ length: count }, (_, n) => log.append(entry(n))));
  await log.close();
  return { file, lines: await linesOf(file) };
}

async function linesOf(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  return text.split('\n').slice(0, -1);
}

async function writeLines(file: string, lines: string[]): Promise<void> {
  await writeFile(file, lines.map((line) => `${line}\n`).join(''));
}

describe('AuditLog: records', () => {
  it('writes one canonical JSON line per decision, chained from 64 zeros, with exactly the named fields', async () => {
    const file = freshFile();
    const log = await openLog(file);
    expect({ records: log.records, lastHash: log.lastHash, recovered: log.recovered }).toEqual({ records: 0, lastHash: GENESIS_HASH, recovered: null });
    const before = Date.now();
    for (let n = 0; n < 3; n += 1) await log.append(entry(n));
    const lines = await linesOf(file);
    expect(lines).toHaveLength(3);
    const records = lines.map((line) => JSON.parse(line) as AuditRecord);
    records.forEach((record, n) => {
      expect(Object.keys(record)).toEqual(['dataClass', 'hash', 'model', 'payloadSha256', 'policyVersion', 'prev', 'reason', 'seq', 'task', 'tenant', 'tier', 'time']);
      expect(record).toMatchObject({ ...entry(n), seq: n, prev: n === 0 ? GENESIS_HASH : records[n - 1]!.hash });
      const { hash, ...withoutHash } = record;
      expect(hash).toBe(sha256(canonicalJson(withoutHash)));
      expect(lines[n]).toBe(canonicalJson(record));
      expect(Date.parse(record.time)).toBeGreaterThanOrEqual(before - 1);
      expect(new Date(record.time).toISOString()).toBe(record.time);
    });
    expect({ records: log.records, lastHash: log.lastHash }).toEqual({ records: 3, lastHash: records[2]!.hash });
  });

  it('canonical JSON sorts keys at every level, so the hash does not depend on field order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: null, e: 'x' }], c: true } })).toBe('{"a":{"c":true,"d":[2,{"e":"x","f":null}]},"b":1}');
    expect(recordHash({ seq: 0, time: 't', hash: 'ignored' })).toBe(recordHash({ time: 't', seq: 0 }));
  });

  it('never writes the payload: fields beyond the entry are dropped, only the caller-made hash is kept', async () => {
    const file = freshFile();
    const log = await openLog(file);
    const secret = 'patient 4711, diagnosis: confidential';
    await log.append({ ...entry(1), payloadSha256: sha256(secret), payload: Buffer.from(secret), image: secret } as AuditEntry);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain('patient');
    expect(text).not.toContain(Buffer.from(secret).toString('base64'));
    expect(JSON.parse(text)).toMatchObject({ payloadSha256: sha256(secret) });
  });

  it('BAD CALL - an entry with the payload in place of its hash, or fields out of range -> refused, nothing written', async () => {
    const file = freshFile();
    const log = await openLog(file);
    const bad: Partial<AuditEntry>[] = [
      { payloadSha256: 'raw payload bytes' },
      { payloadSha256: sha256('x').toUpperCase() },
      { tier: 'moon' as AuditEntry['tier'] },
      { dataClass: 'secret' as AuditEntry['dataClass'] },
      { task: 'translate' as AuditEntry['task'] },
      { model: '' },
      { reason: 'x'.repeat(2049) },
      { tenant: 42 as unknown as string },
      { policyVersion: '' },
    ];
    for (const overrides of bad) expect(await codeOf(log.append(entry(0, overrides)))).toBe('EDGE_ERR_INTERNAL');
    await expect(log.append(entry(0, { payloadSha256: 'raw payload bytes' }))).rejects.toThrow(/payloadSha256 must be 64 lowercase hex digits/);
    expect(log.records).toBe(0);
    expect((await stat(file)).size).toBe(0);
  });

  it('creates missing folders', async () => {
    const file = path.join(scratch, 'deep', 'er', 'still', 'audit.jsonl');
    const log = await openLog(file);
    await log.append(entry(0));
    expect(existsSync(file)).toBe(true);
  });
});

describe('AuditLog: resuming, batching, bounds, closing', () => {
  it('reopening resumes the chain: seq and prev continue, and the whole file verifies', async () => {
    const { file, lines } = await writtenLog(3);
    const log = await openLog(file);
    expect({ records: log.records, lastHash: log.lastHash, recovered: log.recovered }).toEqual({
      records: 3,
      lastHash: (JSON.parse(lines[2]!) as AuditRecord).hash,
      recovered: null,
    });
    await log.append(entry(3));
    await log.close();
    const after = await linesOf(file);
    expect(JSON.parse(after[3]!)).toMatchObject({ seq: 3, prev: (JSON.parse(lines[2]!) as AuditRecord).hash });
    expect(await verifyAuditLog(file)).toEqual({ ok: true, records: 4, lastHash: log.lastHash });
  });

  it('a last line torn half-way by a crash -> open() cuts it away, reports it, and the chain goes on', async () => {
    const { file, lines } = await writtenLog(5);
    const whole = (await stat(file)).size;
    const half = Math.floor(lines[4]!.length / 2);
    await truncate(file, whole - (lines[4]!.length + 1) + half);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, records: 4, line: 5, problem: expect.stringMatching(/^unparsable line: .*\(the last line is incomplete/) });

    const log = await openLog(file);
    expect(log.recovered).toEqual({ droppedBytes: half, size: whole - (lines[4]!.length + 1) });
    expect({ records: log.records, lastHash: log.lastHash }).toEqual({ records: 4, lastHash: (JSON.parse(lines[3]!) as AuditRecord).hash });
    await log.append(entry(99));
    await log.close();
    expect(await verifyAuditLog(file)).toEqual({ ok: true, records: 5, lastHash: log.lastHash });
  });

  it('a log that is nothing but a torn first line -> open() empties it and starts from seq 0', async () => {
    const file = freshFile();
    const { lines } = await writtenLog(1);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, lines[0]!.slice(0, 40));
    const log = await openLog(file);
    expect({ recovered: log.recovered, records: log.records, lastHash: log.lastHash }).toEqual({ recovered: { droppedBytes: 40, size: 0 }, records: 0, lastHash: GENESIS_HASH });
  });

  it('BAD CALL - a last record that was edited -> open() refuses with EDGE_ERR_AUDIT_LOG_INVALID instead of chaining onto it', async () => {
    const { file, lines } = await writtenLog(3);
    await writeLines(file, [...lines.slice(0, 2), lines[2]!.replace('"tier":"mec"', '"tier":"device"')]);
    const refused = AuditLog.open(file);
    await expect(refused).rejects.toMatchObject({ code: 'EDGE_ERR_AUDIT_LOG_INVALID' });
    await expect(refused).rejects.toThrow('its last record: hash mismatch');
  });

  it('thousands of concurrent appends are written in order, several records per write', async () => {
    const file = freshFile();
    const log = await openLog(file);
    const count = 5000;
    const started = performance.now();
    await Promise.all(Array.from({ length: count }, (_, n) => log.append(entry(n))));
    const elapsedMs = performance.now() - started;
    // The first append starts a write alone; the rest queue behind it and go 1024 at a time.
    expect(log.writes).toBe(1 + Math.ceil((count - 1) / 1024));
    expect(log.records).toBe(count);
    const lines = await linesOf(file);
    expect(lines.map((line) => (JSON.parse(line) as AuditRecord).reason)).toEqual(Array.from({ length: count }, (_, n) => entry(n).reason));
    expect(await verifyAuditLog(file)).toEqual({ ok: true, records: count, lastHash: log.lastHash });
    expect(elapsedMs).toBeLessThan(5000);
  });

  it('BAD CALL - more than maxPending records waiting -> EDGE_ERR_QUEUE_FULL at once; those accepted are written', async () => {
    const file = freshFile();
    const log = await openLog(file, { maxPending: 10 });
    const accepted = Array.from({ length: 10 }, (_, n) => log.append(entry(n)));
    expect(log.pending).toBe(10);
    const overflow = log.append(entry(10));
    await expect(overflow).rejects.toMatchObject({ code: 'EDGE_ERR_QUEUE_FULL', retryAfterSeconds: 1 });
    await Promise.all(accepted);
    expect(log.pending).toBe(0);
    await log.append(entry(10));
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, records: 11 });
  });

  it('close() waits for accepted records, is idempotent, and later appends get EDGE_ERR_SHUTTING_DOWN', async () => {
    const file = freshFile();
    const log = await openLog(file);
    const accepted = Array.from({ length: 100 }, (_, n) => log.append(entry(n)));
    const [first, second] = [log.close(), log.close()];
    await Promise.all([first, second, ...accepted]);
    expect((await linesOf(file)).length).toBe(100);
    expect(await codeOf(log.append(entry(100)))).toBe('EDGE_ERR_SHUTTING_DOWN');
    await log.close();
  });

  it('with fsync, appends still chain and verify', async () => {
    const file = freshFile();
    const log = await openLog(file, { fsync: true });
    await Promise.all(Array.from({ length: 50 }, (_, n) => log.append(entry(n))));
    expect(await verifyAuditLog(file)).toEqual({ ok: true, records: 50, lastHash: log.lastHash });
  });

  it.skipIf(!existsSync('/dev/full'))('BAD CALL - the disk refuses the write (/dev/full) -> the append fails with the cause, and the log stops writing', async () => {
    const log = await openLog('/dev/full');
    await expect(log.append(entry(0))).rejects.toMatchObject({ code: 'EDGE_ERR_INTERNAL', message: expect.stringMatching(/cannot write the audit log \/dev\/full: .*ENOSPC/) });
    // The device cannot be truncated back, so the end of the "file" is unknown: nothing more is written.
    await expect(log.append(entry(1))).rejects.toThrow(/may end in a partial record/);
    expect(log.records).toBe(0);
  });
});

describe('verifyAuditLog', () => {
  it('an intact log -> ok with the record count and the last hash; an empty file -> 0 records from the genesis hash', async () => {
    const { file, lines } = await writtenLog(6);
    expect(await verifyAuditLog(file)).toEqual({ ok: true, records: 6, lastHash: (JSON.parse(lines[5]!) as AuditRecord).hash });
    const empty = path.join(scratch, 'empty.jsonl');
    await writeFile(empty, '');
    expect(await verifyAuditLog(empty)).toEqual({ ok: true, records: 0, lastHash: GENESIS_HASH });
  });

  it('BAD CALL - an edited field -> hash mismatch at that line', async () => {
    const { file, lines } = await writtenLog(6);
    await writeLines(file, lines.map((line, n) => (n === 2 ? line.replace('"tier":"mec"', '"tier":"device"') : line)));
    expect(await verifyAuditLog(file)).toEqual({ ok: false, records: 2, line: 3, problem: 'hash mismatch: a field of this record was altered' });
  });

  it('BAD CALL - an edited field with its hash recomputed -> the next record no longer chains to it', async () => {
    const { file, lines } = await writtenLog(6);
    const forged = { ...(JSON.parse(lines[2]!) as AuditRecord), tier: 'device' as const };
    forged.hash = recordHash(forged);
    await writeLines(file, lines.map((line, n) => (n === 2 ? canonicalJson(forged) : line)));
    expect(await verifyAuditLog(file)).toEqual({ ok: false, records: 3, line: 4, problem: 'chain broken: prev is not the hash of the record before' });
  });

  it('BAD CALL - a deleted line in the middle -> a seq gap at the line after it', async () => {
    const { file, lines } = await writtenLog(6);
    await writeLines(file, lines.filter((_, n) => n !== 3));
    expect(await verifyAuditLog(file)).toEqual({ ok: false, records: 3, line: 4, problem: 'seq 4 where 3 was expected: a record is missing, repeated or out of order' });
  });

  it('BAD CALL - a deleted line with the later records renumbered and rehashed -> the chain breaks there', async () => {
    const { file, lines } = await writtenLog(6);
    const rewritten = lines
      .filter((_, n) => n !== 3)
      .map((line, n) => {
        const record = JSON.parse(line) as AuditRecord;
        if (n < 3) return line;
        record.seq = n;
        record.hash = recordHash(record);
        return canonicalJson(record);
      });
    await writeLines(file, rewritten);
    expect(await verifyAuditLog(file)).toEqual({ ok: false, records: 3, line: 4, problem: 'chain broken: prev is not the hash of the record before' });
  });

  it('BAD CALL - two lines swapped -> out of order at the first of them', async () => {
    const { file, lines } = await writtenLog(6);
    const swapped = [...lines];
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    await writeLines(file, swapped);
    expect(await verifyAuditLog(file)).toEqual({ ok: false, records: 1, line: 2, problem: 'seq 2 where 1 was expected: a record is missing, repeated or out of order' });
  });

  it('BAD CALL - the first records removed -> the log does not start at seq 0', async () => {
    const { file, lines } = await writtenLog(4);
    await writeLines(file, lines.slice(2));
    expect(await verifyAuditLog(file)).toEqual({ ok: false, records: 0, line: 1, problem: 'the log starts at seq 2, not 0: records before it were removed' });
  });

  it('BAD CALL - a garbled line, a blank line or a foreign record in the middle -> reported at its line', async () => {
    const { file, lines } = await writtenLog(4);
    await writeLines(file, [lines[0]!, '{"seq": 1, "oops"', ...lines.slice(1)]);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, records: 1, line: 2, problem: expect.stringMatching(/^unparsable line: /) });
    expect(((await verifyAuditLog(file)) as { problem: string }).problem).not.toContain('incomplete');

    await writeLines(file, [lines[0]!, '', ...lines.slice(1)]);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, records: 1, line: 2, problem: expect.stringMatching(/^unparsable line: /) });

    const extra = { ...(JSON.parse(lines[1]!) as AuditRecord), note: 'added later' };
    await writeLines(file, [lines[0]!, JSON.stringify(extra), ...lines.slice(2)]);
    expect(await verifyAuditLog(file)).toEqual({ ok: false, records: 1, line: 2, problem: 'not an audit record: unexpected field "note"' });
  });

  it('BAD CALL - a file that cannot be read -> EDGE_ERR_AUDIT_LOG_INVALID naming it', async () => {
    const missing = path.join(scratch, 'no-such-log.jsonl');
    await expect(verifyAuditLog(missing)).rejects.toMatchObject({ code: 'EDGE_ERR_AUDIT_LOG_INVALID', details: { file: missing } });
    await expect(verifyAuditLog(missing)).rejects.toThrow(/ENOENT/);
  });
});

describe('mec audit verify', () => {
  function program(): Command {
    const mec = new Command().name('mec').exitOverride();
    registerAuditCommands(mec);
    return mec;
  }

  it('an intact log -> prints the count and the last hash', async () => {
    const { file, lines } = await writtenLog(3);
    const printed: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (printed.push(String(chunk)), true));
    try {
      await program().parseAsync(['audit', 'verify', file], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    expect(printed).toEqual([`ok: 3 records, chain intact (last hash ${(JSON.parse(lines[2]!) as AuditRecord).hash})\n`]);
  });

  it('BAD CALL - a tampered log -> EDGE_ERR_AUDIT_LOG_INVALID "line L: problem" (the mec entry point prints it and exits 1)', async () => {
    const { file, lines } = await writtenLog(3);
    await writeLines(file, [lines[0]!, lines[2]!]);
    const refused = program().parseAsync(['audit', 'verify', file], { from: 'user' });
    await expect(refused).rejects.toMatchObject({ code: 'EDGE_ERR_AUDIT_LOG_INVALID', details: { file, line: 2, records: 1 } });
    await expect(refused).rejects.toThrow(/^line 2: seq 2 where 1 was expected/);
  });
});
