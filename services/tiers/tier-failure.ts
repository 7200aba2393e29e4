/**
 * Which failures of a call to another tier are the link's or that tier's (worth a fallback nearer
 * the user), as opposed to its verdict on the input (a bad image stays bad wherever it runs).
 */
import type { EdgeError } from '../core/errors.ts';

const TIER_FAILURES: ReadonlySet<string> = new Set([
  'EDGE_ERR_TIER_UNAVAILABLE',
  'EDGE_ERR_QUEUE_FULL',
  'EDGE_ERR_QUEUE_TIMEOUT',
  'EDGE_ERR_SHUTTING_DOWN',
  'EDGE_ERR_WORKER_CRASHED',
  'EDGE_ERR_PLACEMENT_INFEASIBLE',
  'EDGE_ERR_DEADLINE_EXCEEDED',
  'EDGE_ERR_INTERNAL',
]);

export function isTierFailure(error: EdgeError): boolean {
  return TIER_FAILURES.has(error.code);
}

const OVERLOAD_REFUSALS: ReadonlySet<string> = new Set(['EDGE_ERR_QUEUE_FULL', 'EDGE_ERR_RATE_LIMITED']);

/**
 * A tier that answered "too busy, retry after N s": worth a fallback like any tier failure, but the
 * link and the tier are up. Counted as a link failure it would open the breaker, and the tier - busy
 * for a second - would be treated as gone for as long as the breaker takes to close.
 */
export function isOverloadRefusal(error: EdgeError): boolean {
  return OVERLOAD_REFUSALS.has(error.code);
}

/** A heartbeat saying the tier sheds load counts for this long: past it, the tier may have room again. */
export const REFUSING_STATUS_FRESH_MS = 1_000;

/** A peer's refusal as the placement engine reads it: it answered 503 QUEUE_FULL lately, or its last heartbeat said it sheds. */
export function refusalOf(refusedForMs: number, heartbeatSaysRefusing: boolean): { refusing?: { because: string } } {
  if (refusedForMs > 0) return { refusing: { because: `it refused work as overloaded; left alone ${Math.round(refusedForMs)} ms more` } };
  if (heartbeatSaysRefusing) return { refusing: { because: 'its last heartbeat says its task gate refuses new work' } };
  return {};
}
