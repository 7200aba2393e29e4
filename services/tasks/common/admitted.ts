/**
 * Runs a task request's work inside the node's admission gate (services/tasks/admission.ts).
 */
import { performance } from 'node:perf_hooks';
import type { AdmissionGate } from '../admission.ts';
import type { PhaseClock } from './phases.ts';

/** Runs `work` once admitted to the task pipeline; the wait counts as queue time. */
export async function whileAdmitted<T>(
  admission: AdmissionGate,
  clock: PhaseClock,
  options: { timeoutMs?: number; signal?: AbortSignal },
  work: () => Promise<T>,
): Promise<T> {
  const begin = performance.now();
  const timeoutMs = clock.remainingMs(options.timeoutMs);
  const release = await admission.admit({
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  clock.addQueue(performance.now() - begin);
  try {
    return await work();
  } finally {
    release();
  }
}
