/**
 * Closed-loop load: `concurrency` clients each send the next request as soon as the previous one
 * answered, for a fixed duration (after a warm-up). Bounded in time and count by construction.
 */
import { summarize, type LatencySummary } from './stats.ts';

export interface ClosedLoopResult extends LatencySummary {
  concurrency: number;
  seconds: number;
  throughput: number;
  errors: number;
  errorCodes: Record<string, number>;
}

export async function closedLoop(
  concurrency: number,
  durationMs: number,
  send: (iteration: number) => Promise<void>,
  options: { warmupMs?: number; maxRequests?: number } = {},
): Promise<ClosedLoopResult> {
  const warmupEnd = performance.now() + (options.warmupMs ?? 0);
  const maxRequests = options.maxRequests ?? 1_000_000;
  const samples: number[] = [];
  const errorCodes: Record<string, number> = {};
  let errors = 0;
  let issued = 0;
  let measuredStart = Number.NaN;
  let end = Number.POSITIVE_INFINITY;

  const client = async () => {
    for (;;) {
      const now = performance.now();
      if (now >= end || issued >= maxRequests) return;
      if (now >= warmupEnd && Number.isNaN(measuredStart)) {
        measuredStart = now;
        end = now + durationMs;
      }
      const iteration = issued++;
      const started = performance.now();
      try {
        await send(iteration);
        if (started >= warmupEnd) samples.push(performance.now() - started);
      } catch (error) {
        errors += 1;
        const code = (error as { code?: string }).code ?? (error as Error).message ?? 'unknown';
        errorCodes[code] = (errorCodes[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - (Number.isNaN(measuredStart) ? performance.now() : measuredStart)) / 1000;
  return { concurrency, seconds, throughput: samples.length / Math.max(seconds, 1e-9), errors, errorCodes, ...summarize(samples) };
}
