/**
 * How one node reaches another tier over HTTP: a keep-alive connection pool, a deadline on every
 * call, and failures turned into codes. A refused or reset link is EDGE_ERR_TIER_UNAVAILABLE, no
 * answer by the deadline (a stalled link, a slow tier) EDGE_ERR_DEADLINE_EXCEEDED (the caller falls
 * back nearer the user while time is left); an error the other tier answered keeps its code.
 */
import { Pool, errors as undiciErrors } from 'undici';
import { EdgeError, isErrorCode, type SerializedEdgeError } from '../core/errors.ts';

export interface TierResponse<T = unknown> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
  /** Wall time from sending the first byte to the last byte of the answer. */
  elapsedMs: number;
}

export interface TierCallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export class TierClient {
  readonly #pool: Pool;
  #closed = false;

  constructor(
    readonly tier: string,
    readonly url: string,
  ) {
    // A few connections are enough between two nodes; keep-alive short so that a link that went
    // down is noticed on the next call rather than on a socket that died silently.
    this.#pool = new Pool(url, { connections: 16, keepAliveTimeout: 2_000, keepAliveMaxTimeout: 5_000, pipelining: 1 });
  }

  get(path: string, options: TierCallOptions): Promise<TierResponse> {
    return this.#call('GET', path, undefined, options);
  }

  post(path: string, body: Uint8Array, contentType: string, options: TierCallOptions): Promise<TierResponse> {
    return this.#call('POST', path, body, { ...options, headers: { ...options.headers, 'content-type': contentType } });
  }

  async #call(method: 'GET' | 'POST', path: string, body: Uint8Array | undefined, options: TierCallOptions): Promise<TierResponse> {
    if (this.#closed) throw new EdgeError('EDGE_ERR_TIER_UNAVAILABLE', `the client for the ${this.tier} tier is closed`);
    const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(options.timeoutMs)));
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    const started = performance.now();
    try {
      const response = await this.#pool.request({
        method,
        path,
        headers: options.headers ?? {},
        ...(body === undefined ? {} : { body }),
        signal,
      });
      const text = await response.body.text();
      const elapsedMs = performance.now() - started;
      let parsed: unknown;
      try {
        parsed = text.length > 0 ? JSON.parse(text) : undefined;
      } catch {
        throw new EdgeError('EDGE_ERR_TIER_UNAVAILABLE', `the ${this.tier} tier answered ${response.statusCode} with a body that is not JSON`);
      }
      if (response.statusCode >= 400) throw remoteError(this.tier, response.statusCode, parsed);
      return { status: response.statusCode, body: parsed, headers: response.headers, elapsedMs };
    } catch (error) {
      if (error instanceof EdgeError) throw error;
      if (options.signal?.aborted) throw options.signal.reason instanceof EdgeError ? options.signal.reason : new EdgeError('EDGE_ERR_REQUEST_CANCELLED', 'the request was cancelled');
      // The timeout is the request's deadline: running out of it is a missed deadline (504),
      // whatever the link did; a refused, reset or closed connection is the tier being unavailable.
      if (timeout.aborted) {
        throw new EdgeError('EDGE_ERR_DEADLINE_EXCEEDED', `the ${this.tier} tier at ${this.url} did not answer within ${Math.ceil(options.timeoutMs)} ms`, {
          details: { tier: this.tier, timedOut: true },
          cause: error,
        });
      }
      throw new EdgeError('EDGE_ERR_TIER_UNAVAILABLE', `the ${this.tier} tier at ${this.url} is unavailable: ${describe(error)}`, {
        details: { tier: this.tier, timedOut: false },
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.destroy().catch(() => undefined);
  }
}

function describe(error: unknown): string {
  if (error instanceof undiciErrors.UndiciError) return `${error.code}: ${error.message}`;
  const code = (error as { code?: string }).code;
  return code ? `${code}: ${(error as Error).message}` : String((error as Error)?.message ?? error);
}

/** The other tier's own error, with its code when it sent one (docs/errors.md applies as is). */
function remoteError(tier: string, status: number, body: unknown): EdgeError {
  // /v1 answers {"error": {code, message, details}}; /v2 answers {"error": message, "code": CODE}.
  const outer = (body ?? {}) as { error?: unknown; code?: unknown; retryAfterSeconds?: number };
  const payload: Partial<SerializedEdgeError> =
    outer.error !== null && typeof outer.error === 'object'
      ? (outer.error as Partial<SerializedEdgeError>)
      : { code: outer.code as string, message: typeof outer.error === 'string' ? outer.error : undefined };
  const code = isErrorCode(payload.code) ? payload.code : 'EDGE_ERR_TIER_UNAVAILABLE';
  const message = payload.message ?? `HTTP ${status}`;
  return new EdgeError(code, `the ${tier} tier answered ${status}: ${message}`, {
    details: { tier, status, ...(payload.details ?? {}) },
    ...(payload.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: payload.retryAfterSeconds }),
  });
}
