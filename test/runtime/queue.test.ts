/**
 * Queueing on one worker with the `slow` model (~80 ms per row): bounds, timeouts, deadlines,
 * priorities, aborts and fairness between models. Assertions are on codes and order, not times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import { channels, type RejectionEvent } from '../../services/core/events.ts';
import { createRuntime, type OnnxRuntime } from '../../services/runtime/index.ts';
import { codeOf, fixture, slowInputs, sumInputs } from './helpers.ts';

let runtime: OnnxRuntime;

beforeAll(async () => {
  runtime = createRuntime(loadConfig({ runtime: { workers: 1, intraOpThreads: 1 } }));
  await runtime.load(fixture('slow', { maxQueueSize: 3, queueTimeoutMs: 10_000 }));
  await runtime.load(fixture('slow', { name: 'slow-short', queueTimeoutMs: 100 }));
  await runtime.load(fixture('sum'));
});

afterAll(async () => {
  await runtime?.close();
});

describe('runtime queue', () => {
  it('BAD CALL - past maxQueueSize -> EDGE_ERR_QUEUE_FULL at once, with Retry-After', async () => {
    const rejections: RejectionEvent[] = [];
    const listen = (event: unknown): void => void rejections.push(event as RejectionEvent);
    channels.rejection.subscribe(listen);
    let blockerDone = false;
    const blocker = runtime.infer('slow', '1', slowInputs(4)).finally(() => (blockerDone = true));
    const queued = [1, 2, 3].map(() => runtime.infer('slow', '1', slowInputs(1)));
    expect(runtime.utilisation()).toEqual({ workers: 1, busyWorkers: 1, queued: 3 });
    const started = performance.now();
    const full = runtime.infer('slow', '1', slowInputs(1));
    const error = await full.catch((caught: unknown) => caught as { code: string; retryAfterSeconds?: number });
    const elapsed = performance.now() - started;
    channels.rejection.unsubscribe(listen);
    expect((error as { code: string }).code).toBe('EDGE_ERR_QUEUE_FULL');
    expect((error as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(blockerDone).toBe(false); // answered while the worker was still busy
    expect(elapsed).toBeLessThan(500); // generous: the point is "not after the queue drains"
    expect(rejections).toEqual([expect.objectContaining({ model: 'slow', version: '1', code: 'EDGE_ERR_QUEUE_FULL' })]);
    await Promise.all([blocker, ...queued]);
  });

  it('BAD CALL - waiting longer than queueTimeoutMs -> EDGE_ERR_QUEUE_TIMEOUT', async () => {
    const blocker = runtime.infer('slow', '1', slowInputs(8)); // ~0.6 s of work on one core
    const waiting = runtime.infer('slow-short', '1', slowInputs(1));
    expect(await codeOf(waiting)).toBe('EDGE_ERR_QUEUE_TIMEOUT');
    await blocker;
  });

  it('BAD CALL - a deadline passed while queued -> EDGE_ERR_QUEUE_TIMEOUT; while running -> EDGE_ERR_DEADLINE_EXCEEDED', async () => {
    const running = runtime.infer('slow', '1', slowInputs(8), { timeoutMs: 50 });
    const queued = runtime.infer('slow', '1', slowInputs(1), { timeoutMs: 50 });
    expect(await Promise.all([codeOf(queued), codeOf(running)])).toEqual(['EDGE_ERR_QUEUE_TIMEOUT', 'EDGE_ERR_DEADLINE_EXCEEDED']);
    // The worker finishes the abandoned run and serves again.
    expect((await runtime.infer('sum', '1', sumInputs(1, 0))).batchSize).toBe(1);
  });

  it('serves higher priority first, FIFO within a priority', async () => {
    const order: string[] = [];
    const track = (label: string, priority: number) =>
      runtime.infer('slow', '1', slowInputs(1), { priority }).then(() => void order.push(label));
    const blocker = track('blocker', 0);
    const rest = [track('low-a', 0), track('high-a', 5), track('high-b', 5)];
    await Promise.all([blocker, ...rest]);
    expect(order).toEqual(['blocker', 'high-a', 'high-b', 'low-a']);
    const mid = [track('zero', 0), track('minus', -1), track('one', 1)];
    await Promise.all(mid);
    expect(order.slice(4)).toEqual(['zero', 'one', 'minus']); // 'zero' was dispatched at once
  });

  it('BAD CALL - aborting removes a queued request; it never runs', async () => {
    const before = runtime.stats().find((stats) => stats.name === 'slow')!.execution_count;
    const blocker = runtime.infer('slow', '1', slowInputs(2));
    const controller = new AbortController();
    const aborted = runtime.infer('slow', '1', slowInputs(1), { signal: controller.signal });
    expect(runtime.utilisation().queued).toBe(1);
    controller.abort();
    expect(await codeOf(aborted)).toBe('EDGE_ERR_REQUEST_CANCELLED');
    expect(runtime.utilisation().queued).toBe(0);
    await blocker;
    expect(runtime.stats().find((stats) => stats.name === 'slow')!.execution_count).toBe(before + 1);
    expect(await codeOf(runtime.infer('sum', '1', sumInputs(1, 0), { signal: AbortSignal.abort() }))).toBe('EDGE_ERR_REQUEST_CANCELLED');
  });

  it('serves models in turn when workers are scarce', async () => {
    const order: string[] = [];
    const slow = [0, 1, 2].map((index) => runtime.infer('slow', '1', slowInputs(1)).then(() => void order.push(`slow${index}`)));
    const sum = runtime.infer('sum', '1', sumInputs(1, 0)).then(() => void order.push('sum'));
    await Promise.all([...slow, sum]);
    // slow0 was running; sum must not wait behind slow1 and slow2.
    expect(order.indexOf('sum')).toBeLessThanOrEqual(1);
  });
});
