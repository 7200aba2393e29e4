/**
 * The edge's HTTP client for the cloud's sync routes: long polls of the manifest, file downloads
 * streamed to disk while hashed, and acks. Failures of the way there (refused, reset, stalled, a
 * 5xx, a body cut short) are EDGE_ERR_SYNC_UNAVAILABLE: transient, retried. A file whose bytes are
 * all there but hash differently is the publication's fault: its own code, not retried.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Pool } from 'undici';
import { EdgeError, isErrorCode, type ErrorCode } from '../core/errors.ts';
import { parseManifest, type AckBody, type Manifest, type ResourceFile } from './resources.ts';

/** A stalled link must not hold a download or an ack forever. */
const CALL_TIMEOUT_MS = 15_000;
/** Added to the long poll's wait: the cloud answers by then, or the link is gone. */
const POLL_MARGIN_MS = 5_000;
const MAX_JSON_BYTES = 4 * 1024 * 1024;

function unavailable(message: string, cause?: unknown): EdgeError {
  return new EdgeError('EDGE_ERR_SYNC_UNAVAILABLE', message, { retryAfterSeconds: 1, ...(cause === undefined ? {} : { cause }) });
}

async function readLimited(body: AsyncIterable<Uint8Array>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > limit) throw unavailable(`the cloud's answer is larger than ${limit} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The cloud's own error answer keeps its code when it is one of ours. */
async function errorOf(statusCode: number, body: AsyncIterable<Uint8Array>, what: string): Promise<EdgeError> {
  let code: ErrorCode = statusCode >= 500 || statusCode === 429 ? 'EDGE_ERR_SYNC_UNAVAILABLE' : 'EDGE_ERR_SYNC_RESOURCE_NOT_FOUND';
  let message = `${what}: the cloud answered ${statusCode}`;
  try {
    const parsed = JSON.parse(await readLimited(body, 64 * 1024)) as { error?: { code?: unknown; message?: unknown } };
    if (isErrorCode(parsed.error?.code)) code = parsed.error.code;
    if (typeof parsed.error?.message === 'string') message = `${what}: ${parsed.error.message}`;
  } catch {
    // not our JSON: the status says enough
  }
  return new EdgeError(code, message, { details: { status: statusCode } });
}

export class SyncClient {
  readonly #pool: Pool;
  #closed = false;

  readonly #authorization: Record<string, string>;

  /** `token`: the sync token the cloud asks for (sync.token); unset: none sent (a cloud on loopback). */
  constructor(readonly url: string, token?: string) {
    this.#authorization = token === undefined ? {} : { authorization: `Bearer ${token}` };
    // Short keep-alive: a link that went down is noticed on the next call, not on a dead socket.
    this.#pool = new Pool(url, { connections: 4, keepAliveTimeout: 2_000, keepAliveMaxTimeout: 5_000 });
  }

  async manifest(after: string | undefined, waitMs: number, node: string, signal?: AbortSignal): Promise<Manifest> {
    const query = new URLSearchParams({ wait_ms: String(waitMs), node });
    if (after !== undefined) query.set('after', after);
    const text = await this.#json('GET', `/v1/sync/manifest?${query}`, undefined, waitMs + POLL_MARGIN_MS, signal);
    try {
      return parseManifest(JSON.parse(text));
    } catch (error) {
      if (error instanceof EdgeError) throw error;
      throw unavailable('the cloud sent a manifest that is not JSON', error);
    }
  }

  async ack(body: AckBody, signal?: AbortSignal): Promise<void> {
    await this.#json('POST', '/v1/sync/ack', JSON.stringify(body), CALL_TIMEOUT_MS, signal);
  }

  /**
   * Streams `urlPath` into `destination` (created, must not exist), hashing on the way, then fsyncs
   * it. Throws `mismatchCode` when every byte arrived but the sha256 differs.
   */
  async download(urlPath: string, destination: string, expected: ResourceFile, mismatchCode: ErrorCode, signal?: AbortSignal): Promise<void> {
    // Big files on slow links get longer: the whole transfer must go at 100 KB/s at least.
    const response = await this.#request('GET', urlPath, undefined, CALL_TIMEOUT_MS + Math.ceil(expected.bytes / 100), signal);
    if (response.statusCode !== 200) throw await errorOf(response.statusCode, response.body, `GET ${urlPath}`);
    const hash = createHash('sha256');
    let bytes = 0;
    const handle = await open(destination, 'wx', 0o644);
    try {
      for await (const chunk of response.body) {
        bytes += chunk.length;
        // More bytes than published: the file changed under the cloud, or someone lies.
        if (bytes > expected.bytes) {
          response.body.destroy();
          throw new EdgeError(mismatchCode, `${expected.path}: more than the ${expected.bytes} bytes the manifest lists`, { details: { file: expected.path } });
        }
        hash.update(chunk);
        await handle.write(chunk);
      }
      await handle.sync();
    } catch (error) {
      if (error instanceof EdgeError) throw error;
      throw unavailable(`GET ${urlPath} broke off after ${bytes} bytes: ${(error as Error).message}`, error);
    } finally {
      await handle.close();
    }
    if (bytes < expected.bytes) throw unavailable(`GET ${urlPath} ended after ${bytes} of ${expected.bytes} bytes`);
    const actual = hash.digest('hex');
    if (actual !== expected.sha256) {
      throw new EdgeError(mismatchCode, `${expected.path} has sha256 ${actual}, the manifest says ${expected.sha256}`, {
        details: { file: expected.path, expected: expected.sha256, actual },
      });
    }
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.destroy().catch(() => undefined);
  }

  async #json(method: 'GET' | 'POST', urlPath: string, body: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<string> {
    const response = await this.#request(method, urlPath, body, timeoutMs, signal);
    if (response.statusCode !== 200) throw await errorOf(response.statusCode, response.body, `${method} ${urlPath.split('?')[0]}`);
    try {
      return await readLimited(response.body, MAX_JSON_BYTES);
    } catch (error) {
      if (error instanceof EdgeError) throw error;
      throw unavailable(`${method} ${urlPath.split('?')[0]}: the answer broke off`, error);
    }
  }

  async #request(method: 'GET' | 'POST', urlPath: string, body: string | undefined, timeoutMs: number, signal?: AbortSignal) {
    if (this.#closed) throw unavailable('the sync client is closed');
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await this.#pool.request({
        method,
        path: urlPath,
        headers: { ...this.#authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body }),
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
        headersTimeout: timeoutMs,
        bodyTimeout: Math.min(timeoutMs, CALL_TIMEOUT_MS),
      });
    } catch (error) {
      throw unavailable(`${method} ${this.url}${urlPath.split('?')[0]}: ${(error as Error).message}`, error);
    }
  }
}
