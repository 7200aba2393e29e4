/**
 * The runtime options of one model run inside a task request.
 */
import type { InferOptions } from '../../core/contracts.ts';
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
