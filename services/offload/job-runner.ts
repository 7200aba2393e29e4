/**
 * Runs one job's task by POSTing its payload to a node's synchronous task route over HTTP, with
 * the job's tenant and data class, and classifies the answer:
 *   done     2xx: the result;
 *   rejected 4xx: the node's verdict on the input (a corrupt image stays corrupt): fail at once;
 *   outage   the node or its cloud cannot be reached now: the job waits, no attempt is spent;
 *   busy     the node refuses for load (503 EDGE_ERR_QUEUE_FULL, 429): background work yields to
 *            interactive requests and tries again shortly, no attempt spent;
 *   failed   5xx and anything else: retried with backoff, spending an attempt.
 */
import { Pool } from 'undici';
import type { JobData, JobError, RunQueue } from './job-types.ts';

export type RunOutcome =
  | { kind: 'done'; result: unknown }
  | { kind: 'rejected'; error: JobError }
  | { kind: 'outage'; error: JobError }
  | { kind: 'busy'; error: JobError; retryAfterMs: number }
  | { kind: 'failed'; error: JobError };

const ROUTES = { detect: '/v1/vision/detect', inspect: '/v1/inspect', asr: '/v1/asr' } as const;

/** The node's own backpressure: it will take the job a little later. */
const BUSY_CODES: ReadonlySet<string> = new Set(['EDGE_ERR_QUEUE_FULL', 'EDGE_ERR_RATE_LIMITED']);
/** Codes that say "the far side cannot be reached now" rather than "this job is bad or failed". */
const OUTAGE_CODES: ReadonlySet<string> = new Set(['EDGE_ERR_TIER_UNAVAILABLE', 'EDGE_ERR_SHUTTING_DOWN']);
/** For cloud jobs also: placement found no reachable tier for a request pinned to the cloud. */
const CLOUD_OUTAGE_CODES: ReadonlySet<string> = new Set([...OUTAGE_CODES, 'EDGE_ERR_PLACEMENT_INFEASIBLE', 'EDGE_ERR_DEADLINE_EXCEEDED']);

export class JobRunner {
  readonly #pool: Pool;
  readonly #timeoutMs: number;
  #closed = false;

  constructor(
    readonly nodeUrl: string,
    options: { timeoutMs: number; connections?: number },
  ) {
    this.#timeoutMs = options.timeoutMs;
    this.#pool = new Pool(nodeUrl, { connections: options.connections ?? 8, keepAliveTimeout: 2_000, pipelining: 1 });
  }

  async run(id: string, queue: RunQueue, data: JobData, payload: Buffer): Promise<RunOutcome> {
    const first = await this.#post(id, queue === 'cloud' ? 'cloud' : 'mec', data, payload, queue);
    // The policy changed since intake and no longer lets this class reach the cloud: run it here.
    if (queue === 'cloud' && first.kind === 'rejected' && first.error.code === 'EDGE_ERR_PRIVACY_DENIED') {
      return this.#post(id, 'mec', data, payload, 'edge');
    }
    return first;
  }

  async #post(id: string, tier: 'cloud' | 'mec', data: JobData, payload: Buffer, queue: RunQueue): Promise<RunOutcome> {
    if (this.#closed) return { kind: 'outage', error: { code: 'EDGE_ERR_SHUTTING_DOWN', message: 'the job runner is closed' } };
    const query = new URLSearchParams(data.query).toString();
    const outageCodes = queue === 'cloud' ? CLOUD_OUTAGE_CODES : OUTAGE_CODES;
    let status: number;
    let text: string;
    let retryAfter: string | string[] | undefined;
    try {
      const response = await this.#pool.request({
        method: 'POST',
        path: `${ROUTES[data.task]}${query ? `?${query}` : ''}`,
        headers: {
          'content-type': data.contentType,
          'x-tenant': data.tenant,
          'x-data-class': data.dataClass,
          'x-placement-tier': tier,
          'x-job-id': id,
          // The job's own deadline, not the interactive one the policy gives the task.
          'x-deadline-ms': String(Math.min(600_000, this.#timeoutMs)),
        },
        body: payload,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.statusCode;
      retryAfter = response.headers['retry-after'];
      text = await response.body.text();
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      // Refused or reset: the node is down or restarting, not the job's fault. A timeout is a failed run.
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      if (timedOut) return { kind: 'failed', error: { code: 'EDGE_ERR_DEADLINE_EXCEEDED', message: `the node did not answer within ${this.#timeoutMs} ms` } };
      return { kind: 'outage', error: { code: 'EDGE_ERR_TIER_UNAVAILABLE', message: `the node at ${this.nodeUrl} cannot be reached: ${message}` } };
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (status >= 200 && status < 300 && body !== undefined) return { kind: 'done', result: body };
    const error = errorOf(status, body);
    if (BUSY_CODES.has(error.code) || status === 429) {
      const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
      return { kind: 'busy', error, retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000 };
    }
    if (outageCodes.has(error.code) || (queue === 'cloud' && (status === 502 || status === 504))) return { kind: 'outage', error };
    if (status >= 400 && status < 500) return { kind: 'rejected', error };
    return { kind: 'failed', error };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close().catch(() => undefined);
  }
}

function errorOf(status: number, body: unknown): JobError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (error && typeof error.code === 'string') return { code: error.code, message: typeof error.message === 'string' ? error.message : `HTTP ${status}` };
  return { code: 'EDGE_ERR_INTERNAL', message: `the node answered HTTP ${status} without an error code` };
}
