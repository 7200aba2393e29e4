/**
 * The deadline of a V2 infer request: the shorter of the body's `parameters.timeout` (Triton's,
 * microseconds) and the caller's `x-deadline-ms` header (the same hard deadline the /v1 task routes
 * and the tiers forward), else the node's default. Counted from when the route started, so the
 * time spent decoding the body is part of it; work whose deadline has passed is not started.
 */
import { performance } from 'node:perf_hooks';
import { EdgeError } from '../../core/errors.ts';
import { MAX_DEADLINE_MS } from '../../dispatch/request-meta.ts';

type Headers = Record<string, string | string[] | undefined>;

/** x-deadline-ms in ms, undefined when absent; EDGE_ERR_HEADER_INVALID when malformed. */
export function deadlineHeaderMs(headers: Headers): number | undefined {
  const raw = headers['x-deadline-ms'];
  if (raw === undefined) return undefined;
  const text = Array.isArray(raw) ? undefined : raw.trim();
  const ms = Number(text);
  if (text === undefined || text === '' || !Number.isFinite(ms) || ms <= 0 || ms > MAX_DEADLINE_MS) {
    throw new EdgeError('EDGE_ERR_HEADER_INVALID', `x-deadline-ms must be given once, as a number of milliseconds above 0 and at most ${MAX_DEADLINE_MS}`, {
      details: { header: 'x-deadline-ms' },
    });
  }
  return ms;
}

/**
 * What is left of the request's deadline now, ms. Throws EDGE_ERR_DEADLINE_EXCEEDED when nothing
 * is left: the model is then never run.
 */
export function remainingV2TimeoutMs(options: { parameterTimeoutMs: number | undefined; headerMs: number | undefined; defaultMs: number; maxMs: number; startedAt: number }): number {
  const given = Math.min(options.parameterTimeoutMs ?? Number.POSITIVE_INFINITY, options.headerMs ?? Number.POSITIVE_INFINITY);
  const timeoutMs = Math.min(Number.isFinite(given) ? given : options.defaultMs, options.maxMs);
  const left = Math.floor(timeoutMs - (performance.now() - options.startedAt));
  if (left <= 0) {
    throw new EdgeError('EDGE_ERR_DEADLINE_EXCEEDED', `the request's deadline of ${timeoutMs} ms passed before its model could start`, { details: { timeoutMs } });
  }
  return left;
}
