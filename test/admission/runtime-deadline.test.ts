/**
 * Work whose deadline has passed is never started by the runtime, even when the event loop was too
 * busy for the deadline's timer to fire first: the worker frees up, the queue is pumped, and the
 * expired request must be dropped there, not handed to the worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import { createRuntime, type OnnxRuntime } from '../../services/runtime/index.ts';
import { codeOf, fixture, slowInputs } from '../runtime/helpers.ts';

let runtime: OnnxRuntime;

const executions = (name: string): number => runtime.stats().find((stat) => stat.name === name)?.execution_count ?? -1;

/** Holds the JS thread, as a large synchronous parse or a GC pause would. */
function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

beforeAll(async () => {
  runtime = createRuntime(loadConfig({ runtime: { workers: 1, intraOpThreads: 1, warmup: false } }));
  await runtime.load(fixture('slow', { queueTimeoutMs: 10_000 }));
  // The first runs are several times slower (allocation): the blocked loop below must outlast a run.
  await runtime.infer('slow', '1', slowInputs(1));
  await runtime.infer('slow', '1', slowInputs(1));
});

afterAll(async () => {
  await runtime?.close();
});

describe('deadlines in the runtime queue', () => {
  it('BAD CALL - a queued request whose deadline passed while the loop was blocked is dropped, never run', async () => {
    const before = executions('slow');
    const running = runtime.infer('slow', '1', slowInputs(1));
    const late = codeOf(runtime.infer('slow', '1', slowInputs(1), { timeoutMs: 40 }));
    // A timer due before the deadline blocks the loop past it; the deadline's own timer then comes
    // only after the worker's answer has been handled in the same turn (timers phase done, poll next).
    // 1.5 s: a warm run takes ~80 ms on an idle core, several hundred on this shared machine.
    setTimeout(() => busyWait(1500), 10);
    expect(await codeOf(running)).toBe('RESOLVED');
    expect(await late).toBe('EDGE_ERR_QUEUE_TIMEOUT');
    // Give a wrongly started run time to show up in the counters.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(executions('slow') - before).toBe(1);
  });

  it('a queued request within its deadline still runs', async () => {
    const before = executions('slow');
    const first = runtime.infer('slow', '1', slowInputs(1));
    const second = runtime.infer('slow', '1', slowInputs(1), { timeoutMs: 5_000 });
    expect([await codeOf(first), await codeOf(second)]).toEqual(['RESOLVED', 'RESOLVED']);
    expect(executions('slow') - before).toBe(2);
  });
});
