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
