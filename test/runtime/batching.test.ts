/**
 * Dynamic batching with real sessions: requests that arrive together share a run, results equal
 * the unbatched ones, and requests that cannot be joined run alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import { channels, type InferenceEvent } from '../../services/core/events.ts';
import { createRuntime, type OnnxRuntime } from '../../services/runtime/index.ts';
import { fixture, slowInputs, sumInputs } from './helpers.ts';

let runtime: OnnxRuntime;
const batching = { maxBatchSize: 8, maxQueueDelayMs: 50 };
const LONG_DELAY = { maxBatchSize: 8, maxQueueDelayMs: 5_000 };

beforeAll(async () => {
  runtime = createRuntime(loadConfig({ runtime: { workers: 1, intraOpThreads: 1 } }));
  await runtime.load(fixture('sum', { batching }));
  await runtime.load(fixture('sum', { name: 'sum-plain' }));
  await runtime.load(fixture('slow', { batching: { maxBatchSize: 4, maxQueueDelayMs: 50 } }));
  await runtime.load(fixture('slow', { name: 'slow-plain' }));
  await runtime.load(fixture('reshape', { batching })); // fixed dim 0: batching must not apply
  await runtime.load(fixture('sum', { name: 'sum-patient', batching: LONG_DELAY }));
});

afterAll(async () => {
  await runtime?.close();
});

describe('dynamic batching', () => {
  it('applies only to models whose inputs and outputs all have a variable dim 0', () => {
    const applied = Object.fromEntries(runtime.loadedModels().map((model) => [model.name, model.batching]));
    expect(applied).toEqual({ sum: batching, 'sum-plain': undefined, slow: { maxBatchSize: 4, maxQueueDelayMs: 50 }, 'slow-plain': undefined, reshape: undefined, 'sum-patient': LONG_DELAY });
  });

  it('joins requests that arrive together (rows of different sizes) and splits the results back', async () => {
    const events: InferenceEvent[] = [];
    const listen = (event: unknown): void => void events.push(event as InferenceEvent);
    channels.inference.subscribe(listen);
    const rows = [1, 2, 1, 3, 1];
    const batched = await Promise.all(rows.map((count, index) => runtime.infer('sum', '1', sumInputs(count, index * 100))));
    const plain = await Promise.all(rows.map((count, index) => runtime.infer('sum-plain', '1', sumInputs(count, index * 100))));
    channels.inference.unsubscribe(listen);
    batched.forEach((result, index) => {
      expect(result.batchSize).toBeGreaterThan(1);
      expect(result.outputs.OUTPUT0!.dims).toEqual([rows[index], 16]);
      expect(Array.from(result.outputs.OUTPUT0!.data as Float32Array)).toEqual(Array.from(plain[index]!.outputs.OUTPUT0!.data as Float32Array));
      expect(Array.from(result.outputs.OUTPUT1!.data as Float32Array)).toEqual(Array.from(plain[index]!.outputs.OUTPUT1!.data as Float32Array));
    });
    expect(plain.every((result) => result.batchSize === 1)).toBe(true);
    const stats = runtime.stats().find((entry) => entry.name === 'sum')!;
    expect(stats.inference_count).toBe(8); // rows
    expect(stats.execution_count).toBe(1); // 8 rows fit one batch of maxBatchSize 8
    expect(events.filter((event) => event.model === 'sum').map((event) => event.batchSize)).toEqual([5, 5, 5, 5, 5]);
  });

  it('never puts more than maxBatchSize rows in a run', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, (_, index) => runtime.infer('sum', '1', sumInputs(3, index))));
    // 3 + 3 fit into 8, a third request of 3 does not: batches of 2 requests.
    expect(results.map((result) => result.batchSize)).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it('does not join requests that ask for different outputs', async () => {
    const results = await Promise.all([
      runtime.infer('sum', '1', sumInputs(1, 0), { outputs: ['OUTPUT0'] }),
      runtime.infer('sum', '1', sumInputs(1, 1), { outputs: ['OUTPUT1'] }),
      runtime.infer('sum', '1', sumInputs(1, 2), { outputs: ['OUTPUT0'] }),
    ]);
    expect(results.map((result) => result.batchSize)).toEqual([2, 1, 2]);
    expect(Object.keys(results[1]!.outputs)).toEqual(['OUTPUT1']);
  });

  it('a batched slow run gives the same numbers as single runs', async () => {
    const seeds = [0.1, 0.2, 0.3, 0.4];
    const batched = await Promise.all(seeds.map((seed) => runtime.infer('slow', '1', slowInputs(1, seed))));
    const plain = await Promise.all(seeds.map((seed) => runtime.infer('slow-plain', '1', slowInputs(1, seed))));
    expect(batched.map((result) => result.batchSize)).toEqual([4, 4, 4, 4]);
    batched.forEach((result, index) => {
      const got = result.outputs.OUTPUT0!.data as Float32Array;
      const want = plain[index]!.outputs.OUTPUT0!.data as Float32Array;
      for (let i = 0; i < want.length; i += 1) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
    });
  });

  it('a lone request waits at most maxQueueDelayMs for company, then runs alone', async () => {
    const result = await runtime.infer('sum', '1', sumInputs(1, 0));
    expect(result.batchSize).toBe(1);
    expect(result.timings.queue_ms).toBeGreaterThanOrEqual(40); // it did wait for company
  });

  it('a graceful close does not keep a request waiting for company', async () => {
    const waiting = runtime.infer('sum-patient', '1', sumInputs(1, 0));
    const started = performance.now();
    await runtime.close();
    expect(performance.now() - started).toBeLessThan(4_000); // well before its 5 s batching delay
    expect((await waiting).batchSize).toBe(1);
  });
});
