/**
 * The admission gate bounded by time: it learns how long a place is held (EWMA), predicts the wait
 * of a newcomer, and refuses at once what would wait past the queue-delay target or its own
 * deadline. A manual clock makes the service times exact.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import type { EdgeError } from '../../services/core/errors.ts';
import { AdmissionGate, admissionGateFor, type Release } from '../../services/tasks/admission.ts';
import { codeOf } from '../support/code-of.ts';

function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let time = 0;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

/** A gate whose service time has been measured as `serviceMs` (all places busy afterwards). */
async function measuredGate(options: { concurrency: number; maxWaiting?: number; maxQueueDelayMs: number; serviceMs: number }) {
  const clock = manualClock();
  const gate = new AdmissionGate({ concurrency: options.concurrency, maxWaiting: options.maxWaiting ?? 100, waitTimeoutMs: 60_000, maxQueueDelayMs: options.maxQueueDelayMs, now: clock.now });
  const first = await gate.admit();
  clock.advance(options.serviceMs);
  first();
  const holders: Release[] = [];
  for (let index = 0; index < options.concurrency; index += 1) holders.push(await gate.admit());
  return { gate, clock, holders };
}

/** A measured gate with one waiter that has waited long enough for the queue to count as standing. */
async function standingGate(options: { concurrency: number; maxQueueDelayMs: number; serviceMs: number }) {
  const measured = await measuredGate(options);
  const waiter = measured.gate.admit();
  waiter.catch(() => undefined);
  measured.clock.advance(Math.max(options.maxQueueDelayMs, 4 * options.serviceMs));
  expect(measured.gate.standing).toBe(true);
  return { ...measured, waiter };
}

const refusal = async (promise: Promise<unknown>): Promise<EdgeError> => promise.then(() => { throw new Error('admitted'); }, (error: unknown) => error as EdgeError);

describe('refusesNow: what the placement engine asks before placing work here', () => {
  it('false while a place is free or nothing was measured; true once a newcomer would be refused (standing queue past the target, or the hard cap)', async () => {
    const { gate, clock, waiter } = await standingGate({ concurrency: 2, maxQueueDelayMs: 5, serviceMs: 20 });
    // One waiter ahead: predicted (1 + 1) x 20 / 2 = 20 ms > 5 ms in a standing queue.
    expect(gate.refusesNow()).toBe(true);
    clock.advance(1);
    const fresh = new AdmissionGate({ concurrency: 1, maxWaiting: 1, waitTimeoutMs: 1000, maxQueueDelayMs: 5, now: clock.now });
    expect(fresh.refusesNow()).toBe(false);
    const only = await fresh.admit();
    expect(fresh.refusesNow()).toBe(false); // full, but no service time measured: only the hard cap applies
    const queued = fresh.admit();
    expect(fresh.refusesNow()).toBe(true); // the hard cap (maxWaiting 1) is reached
    only();
    (await queued)();
    waiter.catch(() => undefined);
  });
});

describe('admission bounded by predicted wait', () => {
  it('measures the service time as an EWMA of how long places are held', async () => {
    const clock = manualClock();
    const gate = new AdmissionGate({ concurrency: 1, maxWaiting: 10, waitTimeoutMs: 1000, maxQueueDelayMs: 100, now: clock.now });
    expect(gate.serviceMs).toBe(0);
    let release = await gate.admit();
    clock.advance(20);
    release();
    expect(gate.serviceMs).toBe(20);
    release = await gate.admit();
    clock.advance(120);
    release();
    expect(gate.serviceMs).toBeCloseTo(30, 6); // 20 + 0.1 x (120 - 20)
  });

  it('predicts (waiters ahead + 1) x service / concurrency and admits while within the target', async () => {
    const { gate } = await measuredGate({ concurrency: 2, maxQueueDelayMs: 40, serviceMs: 20 });
    expect(gate.predictedWaitMs()).toBe(10);
    const waiters = [gate.admit(), gate.admit(), gate.admit(), gate.admit()]; // predicted 10, 20, 30, 40 ms
    expect(gate.waiting).toBe(4);
    expect(gate.predictedWaitMs()).toBe(50);
    waiters.forEach((waiter) => void waiter.catch(() => undefined));
  });

  it('a burst after a quiet period may queue up to 4 service times, past the target', async () => {
    const { gate } = await measuredGate({ concurrency: 2, maxQueueDelayMs: 10, serviceMs: 20 });
    const waiters = Array.from({ length: 8 }, () => gate.admit()); // predicted 10 .. 80 ms
    expect(gate.waiting).toBe(8);
    expect(gate.standing).toBe(false);
    const error = await refusal(gate.admit()); // predicted 90 ms > 4 x 20
    expect(error.details).toMatchObject({ reason: 'burst', limit_ms: 80, predicted_wait_ms: 90 });
    waiters.forEach((waiter) => void waiter.catch(() => undefined));
  });

  it('BAD CALL - a newcomer predicted to wait past maxQueueDelayMs while the queue stands -> EDGE_ERR_QUEUE_FULL at once, with the drain time as Retry-After', async () => {
    const { gate } = await standingGate({ concurrency: 2, maxQueueDelayMs: 40, serviceMs: 800 });
    // One waiter ahead: (1 + 1) x 800 / 2 = 800 ms > 40 ms target.
    const started = performance.now();
    const error = await refusal(gate.admit());
    expect(performance.now() - started).toBeLessThan(20);
    expect(error.code).toBe('EDGE_ERR_QUEUE_FULL');
    expect(error.details).toMatchObject({ reason: 'queue-delay', predicted_wait_ms: 800, service_ms: 800, max_queue_delay_ms: 40, limit_ms: 40 });
    expect(error.retryAfterSeconds).toBe(1);
    expect(gate.waiting).toBe(1);
  });

  it('Retry-After grows with the predicted wait and is capped at 30 s', async () => {
    const slow = await standingGate({ concurrency: 1, maxQueueDelayMs: 1, serviceMs: 1_250 });
    expect((await refusal(slow.gate.admit())).retryAfterSeconds).toBe(3); // two ahead: 2.5 s
    const glacial = await standingGate({ concurrency: 1, maxQueueDelayMs: 1, serviceMs: 100_000 });
    expect((await refusal(glacial.gate.admit())).retryAfterSeconds).toBe(30);
  });

  it('the queue stops standing once it has stayed empty for an interval (max(target, 4 service times))', async () => {
    const { gate, clock, holders, waiter } = await standingGate({ concurrency: 1, maxQueueDelayMs: 5, serviceMs: 40 });
    expect(gate.standing).toBe(true);
    holders[0]!();
    const inside = await waiter; // the queue is empty from now on
    const interval = 4 * gate.serviceMs; // the holder's 160 ms moved the estimate to 52 ms
    clock.advance(interval - 1);
    expect(gate.standing).toBe(true);
    clock.advance(1);
    expect(gate.standing).toBe(false);
    // A burst is welcome again: a waiter predicted at 40 ms (> 5 ms target) may queue.
    const next = gate.admit();
    expect(gate.waiting).toBe(1);
    inside();
    (await next)();
    expect(gate.inside).toBe(0);
  });

  it('BAD CALL - a request whose deadline ends before it could start -> EDGE_ERR_QUEUE_FULL (reason deadline) at once', async () => {
    const { gate } = await measuredGate({ concurrency: 1, maxQueueDelayMs: 1000, serviceMs: 100 });
    const error = await refusal(gate.admit({ timeoutMs: 50 }));
    expect(error.code).toBe('EDGE_ERR_QUEUE_FULL');
    expect(error.details).toMatchObject({ reason: 'deadline', timeout_ms: 50, predicted_wait_ms: 100 });
    // With enough time left the same request waits.
    const patient = gate.admit({ timeoutMs: 5_000 });
    expect(gate.waiting).toBe(1);
    void patient.catch(() => undefined);
  });

  it('maxWaiting stays the hard cap even when the predicted wait is short', async () => {
    const { gate } = await measuredGate({ concurrency: 1, maxWaiting: 2, maxQueueDelayMs: 10_000, serviceMs: 1 });
    const waiters = [gate.admit(), gate.admit()];
    const error = await refusal(gate.admit());
    expect(error.details).toMatchObject({ reason: 'max-waiting', max_waiting: 2 });
    waiters.forEach((waiter) => void waiter.catch(() => undefined));
  });

  it('refusing keeps the queue empty, and that alone does not end a standing queue', async () => {
    // One service time per place is over the target: while the queue stands nobody may wait.
    const { gate, clock, holders, waiter } = await standingGate({ concurrency: 1, maxQueueDelayMs: 5, serviceMs: 40 });
    holders[0]!();
    const inside = await waiter; // the queue is empty from now on
    const interval = 4 * gate.serviceMs;
    for (let step = 0; step < 5; step += 1) {
      clock.advance(interval - 10);
      expect((await refusal(gate.admit())).details).toMatchObject({ reason: 'queue-delay' });
    }
    expect(gate.standing).toBe(true); // 5 intervals with an empty queue, but refusals all along
    clock.advance(interval);
    expect(gate.standing).toBe(false); // an interval with neither a queue nor a refusal
    inside();
  });

  it('as places free the predicted wait falls and newcomers are admitted again', async () => {
    const { gate, holders, waiter } = await standingGate({ concurrency: 1, maxQueueDelayMs: 60, serviceMs: 40 });
    expect(await codeOf(gate.admit())).toBe('EDGE_ERR_QUEUE_FULL'); // one ahead: 80 ms
    holders[0]!();
    const release = await waiter;
    expect(gate.waiting).toBe(0);
    const next = gate.admit(); // 52 ms (the estimate after a 160 ms hold): within the target again
    expect(gate.waiting).toBe(1);
    release();
    (await next)();
    expect(gate.inside).toBe(0);
  });

  it('before any service time is known, only maxWaiting bounds the queue', async () => {
    const gate = new AdmissionGate({ concurrency: 1, maxWaiting: 3, waitTimeoutMs: 1000, maxQueueDelayMs: 1 });
    const holder = await gate.admit();
    const waiters = [gate.admit(), gate.admit(), gate.admit()];
    expect(gate.waiting).toBe(3);
    holder();
    for (const waiter of waiters) (await waiter)();
    expect(gate.inside).toBe(0);
  });

  it('BAD CALL - a waiter whose deadline passes leaves with EDGE_ERR_QUEUE_TIMEOUT and gives its turn to the next', async () => {
    const gate = new AdmissionGate({ concurrency: 1, maxWaiting: 5, waitTimeoutMs: 10_000, maxQueueDelayMs: 0 });
    const holder = await gate.admit();
    const late = gate.admit({ timeoutMs: 20 });
    const next = gate.admit();
    expect(await codeOf(late)).toBe('EDGE_ERR_QUEUE_TIMEOUT');
    expect(gate.waiting).toBe(1);
    holder();
    (await next)();
    expect(gate.inside).toBe(0);
  });

  it('BAD CALL - a negative queue-delay target is refused at construction', () => {
    expect(() => new AdmissionGate({ concurrency: 1, maxWaiting: 1, waitTimeoutMs: 1, maxQueueDelayMs: -1 })).toThrow(RangeError);
  });

  it('the node gate takes its target from config tasks.maxQueueDelayMs (default 5 ms)', async () => {
    expect(loadConfig().tasks.maxQueueDelayMs).toBe(5);
    const gate = admissionGateFor(loadConfig({ runtime: { workers: 1 }, tasks: { concurrency: 1, maxQueueDelayMs: 5 } }));
    const first = await gate.admit();
    await new Promise((resolve) => setTimeout(resolve, 30));
    first();
    const holder = await gate.admit();
    const waiter = gate.admit();
    await new Promise((resolve) => setTimeout(resolve, 5 * gate.serviceMs));
    expect((await refusal(gate.admit())).details).toMatchObject({ reason: 'queue-delay', max_queue_delay_ms: 5 });
    holder();
    (await waiter)();
  });
});
