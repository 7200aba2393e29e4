/**
 * Worker lifecycle with real threads: the event loop stays free while models run, a killed worker
 * fails only its own run and is replaced, close() drains or fails work and is idempotent.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import { createRuntime } from '../../services/runtime/index.ts';
import { codeOf, fixture, slowInputs, sumInputs } from './helpers.ts';

function runtimeWith(workers: number) {
  return createRuntime(loadConfig({ runtime: { workers, intraOpThreads: 1 } }));
}

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The nice value in a /proc stat file (field 19; fields are counted after the command name). */
function niceOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

function threadNiceValues(): number[] {
  return readdirSync('/proc/self/task').map((tid) => niceOf(`/proc/self/task/${tid}/stat`));
}

describe('session workers', () => {
  it.runIf(process.platform === 'linux')('run at the configured lower priority, the main thread does not', async () => {
    const runtime = createRuntime(loadConfig({ runtime: { workers: 2, intraOpThreads: 1, workerNice: 7 } }));
    try {
      await runtime.load(fixture('sum'));
      const nice = threadNiceValues();
      expect(nice.filter((value) => value === 7).length).toBeGreaterThanOrEqual(2);
      expect(niceOf('/proc/self/stat')).toBe(0);
    } finally {
      await runtime.close();
    }
  });

  it('keeps the event loop ticking while the slow model runs back to back', async () => {
    const runtime = runtimeWith(1);
    try {
      await runtime.load(fixture('slow'));
      let last = performance.now();
      let worstLag = 0;
      let ticks = 0;
      const interval = setInterval(() => {
        const now = performance.now();
        worstLag = Math.max(worstLag, now - last - 10);
        last = now;
        ticks += 1;
      }, 10);
      const started = performance.now();
      // Each run is ~0.25 s of blocking native code: on the main thread the lag would be at least that.
      const results = await Promise.all(Array.from({ length: 4 }, () => runtime.infer('slow', '1', slowInputs(3))));
      const elapsed = performance.now() - started;
      clearInterval(interval);
      expect(results).toHaveLength(4);
      const slowest = Math.max(...results.map((result) => result.timings.infer_ms));
      // Relative to the run time, so that a busy shared machine slows both sides alike.
      expect(worstLag).toBeLessThan(slowest / 2);
      expect(ticks).toBeGreaterThan(elapsed / 10 / 3);
    } finally {
      await runtime.close();
    }
  });

  it('BAD CALL - a worker killed mid-run -> its request fails with EDGE_ERR_WORKER_CRASHED; queued and later requests succeed', async () => {
    const runtime = runtimeWith(2);
    try {
      await runtime.load(fixture('slow'));
      await runtime.load(fixture('sum'));
      const onFirst = codeOf(runtime.infer('slow', '1', slowInputs(4))); // dispatched to worker index 0
      const onSecond = codeOf(runtime.infer('slow', '1', slowInputs(4))); // worker index 1
      const queued = [1, 2, 3].map(() => codeOf(runtime.infer('slow', '1', slowInputs(1))));
      await runtime.__terminateWorkerForTest(0);
      const codes = await Promise.all([onFirst, onSecond, ...queued]);
      expect(codes).toEqual(['EDGE_ERR_WORKER_CRASHED', 'RESOLVED', 'RESOLVED', 'RESOLVED', 'RESOLVED']);
      await until(() => runtime.utilisation().workers === 2);
      // The replacement reloads every model; wait until both workers serve again.
      const later = await Promise.all(Array.from({ length: 6 }, (_, index) => runtime.infer('sum', '1', sumInputs(1, index))));
      expect(later.every((result) => result.outputs.OUTPUT0!.dims[0] === 1)).toBe(true);
      await until(() => runtime.loadedModels().every((model) => model.state === 'ready'));
      const stats = runtime.stats().find((entry) => entry.name === 'slow')!;
      expect(stats.inference_stats.fail.count).toBe(1);
      expect(stats.inference_stats.success.count).toBe(4);
    } finally {
      await runtime.close();
    }
  });

  it('BAD CALL - the only worker killed mid-run -> queued requests wait for its replacement, which reloads every model', async () => {
    const runtime = runtimeWith(1);
    try {
      await runtime.load(fixture('slow'));
      await runtime.load(fixture('sum'));
      const inFlight = codeOf(runtime.infer('slow', '1', slowInputs(3)));
      const queued = [codeOf(runtime.infer('sum', '1', sumInputs(1, 0))), codeOf(runtime.infer('slow', '1', slowInputs(1)))];
      const firstWorker = await runtime.__terminateWorkerForTest(0);
      expect(firstWorker).toBe(1);
      expect(await Promise.all([inFlight, ...queued])).toEqual(['EDGE_ERR_WORKER_CRASHED', 'RESOLVED', 'RESOLVED']);
      expect(runtime.utilisation()).toEqual({ workers: 1, busyWorkers: 0, queued: 0 });
    } finally {
      await runtime.close();
    }
  });

  it('close() is graceful by default: queued and running work completes, then EDGE_ERR_SHUTTING_DOWN', async () => {
    const runtime = runtimeWith(1);
    await runtime.load(fixture('slow'));
    const work = [1, 2, 3].map(() => codeOf(runtime.infer('slow', '1', slowInputs(1))));
    const closing = runtime.close();
    expect(await codeOf(runtime.infer('slow', '1', slowInputs(1)))).toBe('EDGE_ERR_SHUTTING_DOWN');
    expect(await Promise.all(work)).toEqual(['RESOLVED', 'RESOLVED', 'RESOLVED']);
    await closing;
    expect(runtime.close()).toBe(closing); // idempotent: the same promise
    expect(await codeOf(runtime.infer('slow', '1', slowInputs(1)))).toBe('EDGE_ERR_SHUTTING_DOWN');
    expect(await codeOf(runtime.load(fixture('sum')))).toBe('EDGE_ERR_SHUTTING_DOWN');
    expect(runtime.utilisation().workers).toBe(0);
  });

  it('BAD CALL - close({ force: true }) fails running and queued work with EDGE_ERR_SHUTTING_DOWN', async () => {
    const runtime = runtimeWith(1);
    await runtime.load(fixture('slow'));
    const work = [4, 1, 1].map((rows) => codeOf(runtime.infer('slow', '1', slowInputs(rows))));
    await runtime.close({ force: true });
    expect(await Promise.all(work)).toEqual(['EDGE_ERR_SHUTTING_DOWN', 'EDGE_ERR_SHUTTING_DOWN', 'EDGE_ERR_SHUTTING_DOWN']);
    await runtime.close({ force: true });
  });

  it('a forced close overtakes a graceful one in progress', async () => {
    const runtime = runtimeWith(1);
    await runtime.load(fixture('slow'));
    const work = [4, 4, 4].map((rows) => codeOf(runtime.infer('slow', '1', slowInputs(rows))));
    const graceful = runtime.close();
    const forced = runtime.close({ force: true });
    expect(forced).toBe(graceful);
    await forced;
    const codes = await Promise.all(work);
    expect(codes.slice(1)).toEqual(['EDGE_ERR_SHUTTING_DOWN', 'EDGE_ERR_SHUTTING_DOWN']);
  });
});
