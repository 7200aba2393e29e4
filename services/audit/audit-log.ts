/**
 * The audit log of placement decisions: append-only JSON Lines, each record chained to the one
 * before by its hash, so that an edit, a deletion or a reorder anywhere shows (services/audit/verify.ts).
 * It records who, which data class, where and why, and the SHA-256 of the payload - never the payload.
 *
 * One AuditLog per file and process: the chain lives in memory between appends.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { EdgeError } from '../core/errors.ts';
import { PLACEMENT_TASKS, isDataClass, isTier, type DataClass, type PlacementTask, type Tier } from '../scheduler/types.ts';

/** The `prev` of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** What the caller records about one decision. */
export interface AuditEntry {
  /** null when the request named no tenant. */
  tenant: string | null;
  dataClass: DataClass;
  tier: Tier;
  task: PlacementTask;
  model: string;
  reason: string;
  /** "name@version" of the policy in force (policyVersion() in services/scheduler/policy.ts). */
  policyVersion: string;
  /** Hex SHA-256 of the payload bytes, computed by the caller; the payload itself never reaches the log. */
  payloadSha256: string;
}

/** One line of the log. */
export interface AuditRecord extends AuditEntry {
  seq: number;
  time: string;
  prev: string;
  /** SHA-256 of the canonical JSON of the record without `hash`. */
  hash: string;
}

export interface AuditLogOptions {
  /** Records accepted but not yet written; past it append() rejects with EDGE_ERR_QUEUE_FULL. */
  maxPending?: number;
  /** fdatasync after every write: survives power loss, at the price of a disk flush per batch. */
  fsync?: boolean;
}

/** What open() cut away: the torn end of a write that a crash interrupted (never acknowledged). */
export interface AuditRecovery {
  droppedBytes: number;
  /** File size after the cut. */
  size: number;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;
const DEFAULT_MAX_PENDING = 10_000;
/** Records hashed and written at once: bounds one batch's event-loop time to about a millisecond. */
const MAX_BATCH = 1024;
/** Field limits keep every line far below TAIL_BYTES, so open() finds the last line in one read. */
const MAX_NAME_CHARS = 256;
const MAX_REASON_CHARS = 2048;
const TAIL_BYTES = 64 * 1024;

/** Sorted, as canonical JSON orders them. */
const RECORD_FIELDS = ['dataClass', 'hash', 'model', 'payloadSha256', 'policyVersion', 'prev', 'reason', 'seq', 'task', 'tenant', 'tier', 'time'] as const;

/** JSON with object keys sorted at every level: the same record always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The hash a record must carry: over every field it has except `hash` itself. */
export function recordHash(record: object): string {
  const { hash: _hash, ...rest } = record as Record<string, unknown>;
  return sha256Hex(canonicalJson(rest));
}

/**
 * canonicalJson() of a record with exactly RECORD_FIELDS (hash left out when undefined), without
 * sorting keys per record: the hot path of append() and of verification.
 */
function recordJson(record: Omit<AuditRecord, 'hash'> & { hash?: string }): string {
  let json = '{';
  for (const field of RECORD_FIELDS) {
    const value = record[field];
    if (value === undefined) continue;
    json += `${json.length === 1 ? '' : ','}"${field}":${JSON.stringify(value)}`;
  }
  return `${json}}`;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A line of the log as a record whose hash matches its fields, or what is wrong with it. */
export function parseAuditLine(line: string): { record: AuditRecord } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { problem: `unparsable line: ${(error as Error).message}` };
  }
  const shape = recordShapeProblem(value);
  if (shape !== undefined) return { problem: `not an audit record: ${shape}` };
  const record = value as AuditRecord;
  if (sha256Hex(recordJson({ ...record, hash: undefined })) !== record.hash) return { problem: 'hash mismatch: a field of this record was altered' };
  return { record };
}

function recordShapeProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  const extra = Object.keys(record).find((key) => !(RECORD_FIELDS as readonly string[]).includes(key));
  if (extra !== undefined) return `unexpected field "${extra}"`;
  const missing = RECORD_FIELDS.find((key) => !Object.hasOwn(record, key));
  if (missing !== undefined) return `field "${missing}" is missing`;
  if (!Number.isSafeInteger(record.seq) || (record.seq as number) < 0) return 'seq must be a non-negative integer';
  if (typeof record.time !== 'string' || Number.isNaN(Date.parse(record.time))) return 'time must be an ISO date';
  if (typeof record.prev !== 'string' || !HEX_SHA256.test(record.prev)) return 'prev must be 64 hex digits';
  if (typeof record.hash !== 'string' || !HEX_SHA256.test(record.hash)) return 'hash must be 64 hex digits';
  return entryProblem(record);
}

/** What is wrong with an entry's fields, if anything (shared by append() and the line parser). */
function entryProblem(entry: Readonly<Record<string, unknown>>): string | undefined {
  const { tenant, dataClass, tier, task, model, reason, policyVersion, payloadSha256 } = entry;
  if (tenant !== null && !(typeof tenant === 'string' && tenant.length <= MAX_NAME_CHARS)) return `tenant must be null or a string of at most ${MAX_NAME_CHARS} characters`;
  if (!isDataClass(dataClass)) return `dataClass ${JSON.stringify(dataClass)} is not a data class`;
  if (!isTier(tier)) return `tier ${JSON.stringify(tier)} is not a tier`;
  if (!(PLACEMENT_TASKS as readonly unknown[]).includes(task)) return `task ${JSON.stringify(task)} is not a placement task`;
  if (!(typeof model === 'string' && model.length > 0 && model.length <= MAX_NAME_CHARS)) return `model must be a string of 1 to ${MAX_NAME_CHARS} characters`;
  if (!(typeof reason === 'string' && reason.length <= MAX_REASON_CHARS)) return `reason must be a string of at most ${MAX_REASON_CHARS} characters`;
  if (!(typeof policyVersion === 'string' && policyVersion.length > 0 && policyVersion.length <= MAX_NAME_CHARS)) {
    return `policyVersion must be a string of 1 to ${MAX_NAME_CHARS} characters`;
  }
  if (typeof payloadSha256 !== 'string' || !HEX_SHA256.test(payloadSha256)) return 'payloadSha256 must be 64 lowercase hex digits (the hash of the payload, never the payload)';
  return undefined;
}

interface PendingRecord {
  entry: AuditEntry;
  time: string;
  resolve: () => void;
  reject: (error: EdgeError) => void;
}

export class AuditLog {
  readonly file: string;
  /** Set when open() cut a torn last line away; null when the file ended on a whole record. */
  readonly recovered: AuditRecovery | null;
  private readonly handle: FileHandle;
  private readonly maxPending: number;
  private readonly fsync: boolean;
  private nextSeq: number;
  private chainHash: string;
  /** Bytes of whole records in the file: a failed write is cut back to this. */
  private size: number;
  private readonly queue: PendingRecord[] = [];
  private inFlight = 0;
  private writeCount = 0;
  /** True while drain() runs; set and cleared synchronously, so no append can slip between its end and a restart. */
  private writing = false;
  private draining: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;
  /** Set when the file's end is no longer known (a failed write could not be undone): nothing more is written. */
  private broken: EdgeError | null = null;

  private constructor(file: string, handle: FileHandle, state: ChainState, options: AuditLogOptions) {
    this.file = file;
    this.handle = handle;
    this.nextSeq = state.nextSeq;
    this.chainHash = state.lastHash;
    this.size = state.size;
    this.recovered = state.recovered;
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    this.fsync = options.fsync ?? false;
  }

  /**
   * Opens (creating folders and file) and resumes the chain from the last record. Only the last
   * line is checked, so opening a large log is fast; `mec audit verify` checks the whole chain.
   */
  static async open(file: string, options: AuditLogOptions = {}): Promise<AuditLog> {
    if (options.maxPending !== undefined && !(Number.isSafeInteger(options.maxPending) && options.maxPending >= 1)) {
      throw new RangeError('AuditLog: maxPending must be a positive integer');
    }
    await mkdir(path.dirname(file), { recursive: true });
    // a+: reads for the tail, and every write lands at the end whatever else happens.
    const handle = await open(file, 'a+');
    try {
      return new AuditLog(file, handle, await resumeChain(file, handle), options);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Records in the chain so far (written, not pending): also the seq of the next record. */
  get records(): number {
    return this.nextSeq;
  }

  /** Hash of the last written record (GENESIS_HASH for an empty log): anchor it elsewhere to detect a rewrite. */
  get lastHash(): string {
    return this.chainHash;
  }

  /** Records accepted and not yet written. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /** File writes so far: records / writes shows how well appends are batched. */
  get writes(): number {
    return this.writeCount;
  }

  /** Resolves once the record is written (and synced with `fsync`). Only the named fields are written. */
  append(entry: AuditEntry): Promise<void> {
    if (this.closing !== null) return Promise.reject(new EdgeError('EDGE_ERR_SHUTTING_DOWN', `the audit log ${this.file} is closed`));
    if (this.broken !== null) return Promise.reject(this.broken);
    const problem = entryProblem(entry as unknown as Record<string, unknown>);
    if (problem !== undefined) return Promise.reject(new EdgeError('EDGE_ERR_INTERNAL', `audit entry refused: ${problem}`));
    if (this.pending >= this.maxPending) {
      return Promise.reject(
        new EdgeError('EDGE_ERR_QUEUE_FULL', `the audit log ${this.file} has ${this.pending} records waiting to be written`, { retryAfterSeconds: 1 }),
      );
    }
    const { tenant, dataClass, tier, task, model, reason, policyVersion, payloadSha256 } = entry;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({
        entry: { tenant, dataClass, tier, task, model, reason, policyVersion, payloadSha256 },
        time: new Date().toISOString(),
        resolve,
        reject,
      });
      if (!this.writing) {
        this.writing = true;
        this.draining = this.drain();
      }
    });
  }

  /** Idempotent: refuses new appends, writes those already accepted, then closes the file. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.draining;
      await this.handle.close();
    })();
    return this.closing;
  }

  /** The one writer: whatever waits is hashed and written together, batch after batch, in order. */
  private async drain(): Promise<void> {
    // The empty-queue check and `writing = false` must run in one synchronous step (no await
    // between them), or an append made in between would wait for a writer that has stopped.
    try {
      while (this.queue.length > 0) await this.writeBatch(this.queue.splice(0, MAX_BATCH));
    } finally {
      this.writing = false;
    }
  }

  /** Hashes and writes one batch in one write; resolves or rejects each of its appends. */
  private async writeBatch(batch: PendingRecord[]): Promise<void> {
    if (this.broken !== null) {
      for (const waiting of batch) waiting.reject(this.broken);
      return;
    }
    this.inFlight = batch.length;
    let seq = this.nextSeq;
    let prev = this.chainHash;
    const lines = batch.map(({ entry, time }) => {
      const record: Omit<AuditRecord, 'hash'> = { ...entry, seq, time, prev };
      prev = sha256Hex(recordJson(record));
      seq += 1;
      return `${recordJson({ ...record, hash: prev })}\n`;
    });
    const bytes = Buffer.from(lines.join(''), 'utf8');
    try {
      await writeAll(this.handle, bytes);
      this.writeCount += 1;
      if (this.fsync) await this.handle.datasync();
      this.size += bytes.length;
      this.nextSeq = seq;
      this.chainHash = prev;
      for (const waiting of batch) waiting.resolve();
    } catch (error) {
      const failed = new EdgeError('EDGE_ERR_INTERNAL', `cannot write the audit log ${this.file}: ${(error as Error).message}`, { cause: error });
      await this.undoPartialWrite(error);
      for (const waiting of batch) waiting.reject(failed);
    } finally {
      this.inFlight = 0;
    }
  }

  /** Cuts a partly written batch away, so the file still ends on a whole record and the chain holds. */
  private async undoPartialWrite(cause: unknown): Promise<void> {
    try {
      await this.handle.truncate(this.size);
    } catch (error) {
      this.broken = new EdgeError(
        'EDGE_ERR_INTERNAL',
        `the audit log ${this.file} may end in a partial record (${(cause as Error).message}; truncating failed: ${(error as Error).message}); reopen it to recover`,
        { cause: error },
      );
    }
  }
}

interface ChainState {
  nextSeq: number;
  lastHash: string;
  size: number;
  recovered: AuditRecovery | null;
}

/** Reads the file's tail: cuts a torn last line, checks the last whole record, returns where the chain stands. */
async function resumeChain(file: string, handle: FileHandle): Promise<ChainState> {
  const { size } = await handle.stat();
  if (size === 0) return { nextSeq: 0, lastHash: GENESIS_HASH, size: 0, recovered: null };
  const start = Math.max(0, size - TAIL_BYTES);
  const tail = Buffer.alloc(size - start);
  await readAll(handle, tail, start);
  const NEWLINE = 0x0a;
  let end = tail.length;
  let recovered: AuditRecovery | null = null;
  if (tail[end - 1] !== NEWLINE) {
    // Every record is written with its newline in one write: a line without one was cut short by a
    // crash, and its append was never acknowledged, so dropping it loses nothing that was promised.
    const lastNewline = tail.lastIndexOf(NEWLINE);
    if (lastNewline === -1 && start > 0) throw invalidLog(file, `its last ${tail.length} bytes hold no line break: this is not an audit log`);
    end = lastNewline + 1;
    await handle.truncate(start + end);
    recovered = { droppedBytes: size - (start + end), size: start + end };
  }
  if (start + end === 0) return { nextSeq: 0, lastHash: GENESIS_HASH, size: 0, recovered };
  // end - 2 skips the line's own newline (a negative offset would count from the buffer's end).
  const lineStart = end >= 2 ? tail.lastIndexOf(NEWLINE, end - 2) + 1 : 0;
  if (lineStart === 0 && start > 0) throw invalidLog(file, `its last line is longer than ${TAIL_BYTES} bytes: this is not an audit log`);
  const parsed = parseAuditLine(tail.subarray(lineStart, end - 1).toString('utf8'));
  if ('problem' in parsed) throw invalidLog(file, `its last record: ${parsed.problem}`);
  return { nextSeq: parsed.record.seq + 1, lastHash: parsed.record.hash, size: start + end, recovered };
}

function invalidLog(file: string, problem: string): EdgeError {
  return new EdgeError('EDGE_ERR_AUDIT_LOG_INVALID', `cannot resume the audit log ${file}: ${problem} (check it with mec audit verify)`, {
    details: { file },
  });
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

async function readAll(handle: FileHandle, into: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < into.length) {
    const { bytesRead } = await handle.read(into, offset, into.length - offset, position + offset);
    if (bytesRead === 0) throw new Error('the audit log shrank while it was being opened');
    offset += bytesRead;
  }
}
