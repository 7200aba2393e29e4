/**
 * The guard around every Redis call made for a request: whatever the client library does (a frozen
 * server holds a socket open and answers nothing), the caller gets EDGE_ERR_JOBS_UNAVAILABLE with
 * Retry-After by the deadline, and never waits longer.
 */
import { EdgeError } from '../core/errors.ts';

/** Seconds a client is told to wait when Redis does not answer. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

export function unavailable(cause: unknown): EdgeError {
  if (cause instanceof EdgeError) return cause;
  const why = cause instanceof Error ? cause.message : String(cause);
  return new EdgeError('EDGE_ERR_JOBS_UNAVAILABLE', `the job store (Redis) is unavailable: ${why}`, { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS, cause });
}

/** Runs `work` with a deadline; any failure that is not already an EdgeError becomes JOBS_UNAVAILABLE. */
export async function withinDeadline<T>(deadlineMs: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(unavailable(new Error(`no answer within ${deadlineMs} ms`))), deadlineMs);
  });
  const running = work();
  // The loser must not surface later as an unhandled rejection.
  running.catch(() => undefined);
  try {
    return await Promise.race([running, expired]);
  } catch (error) {
    throw unavailable(error);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `work` at most `ms` (close paths: a Redis that never came back must not hold shutdown). */
export async function settleWithin(ms: number, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
