/**
 * The runtime options of one model run inside a task request.
 */
import { performance } from 'node:perf_hooks';
import type { InferOptions } from '../../core/contracts.ts';
import type { VisionContext } from './context.ts';
import type { PhaseClock } from './phases.ts';

/** The runtime's options for one model run: the outputs read, what is left of the deadline, the signal. */
export function inferOptionsOf(clock: PhaseClock, options: { timeoutMs?: number; signal?: AbortSignal }, outputs: readonly string[]): InferOptions {
  const timeoutMs = clock.remainingMs(options.timeoutMs);
  return {
    outputs,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
}

/** Runs `work` once admitted to the vision pipeline; the wait counts as queue time. */
export async function whileAdmitted<T>(
  context: VisionContext,
  clock: PhaseClock,
  options: { timeoutMs?: number; signal?: AbortSignal },
  work: () => Promise<T>,
): Promise<T> {
  const begin = performance.now();
  const timeoutMs = clock.remainingMs(options.timeoutMs);
  const release = await context.admission.admit({
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
