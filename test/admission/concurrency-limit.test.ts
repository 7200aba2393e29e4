/**
 * The adaptive number of places (Envoy's gradient controller): it shrinks when holding a place takes
 * longer than the least it has taken, creeps back when it does not, stays within [min, max], and the
 * admission gate follows it - places above the limit are not refilled, places below it are.
 */
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from '../../services/tasks/concurrency-limit.ts';
import { AdmissionGate, admissionGateFor, defaultConcurrency, type Release } from '../../services/tasks/admission.ts';
import { loadConfig } from '../../services/core/config.ts';

function feed(limit: ConcurrencyLimit, heldMs: number, windows: number): void {
  for (let index = 0; index < windows * 16; index += 1) limit.observe(heldMs);
}

describe('ConcurrencyLimit', () => {
  it('starts open, at max', () => {
    expect(new ConcurrencyLimit({ min: 2, max: 4 }).current).toBe(4);
  });

  it('recomputes once per window, from the median hold time', () => {
    const limit = new ConcurrencyLimit({ min: 2, max: 8 });
    for (let index = 0; index < 15; index += 1) expect(limit.observe(10)).toBe(false);
    expect(limit.observe(1000)).toBe(true); // one outlier in 16 does not move the median
    expect(limit.lastSampleMs).toBe(10);
    expect(limit.baselineMs).toBe(10);
  });

  it('shrinks towards min when places are held twice as long as the baseline, and stays within bounds', () => {
    const limit = new ConcurrencyLimit({ min: 2, max: 8 });
    feed(limit, 10, 1); // baseline 10 ms
    feed(limit, 20, 1); // gradient 12.5 / 20: 8 x 0.625 + 0.25 = 5.25
    expect(limit.current).toBe(5);
    feed(limit, 20, 10);
    expect(limit.current).toBe(2);
    feed(limit, 200, 10); // much slower still: never below min
    expect(limit.current).toBe(2);
  });

  it('grows back to max when holding a place is as fast as the baseline again', () => {
    const limit = new ConcurrencyLimit({ min: 2, max: 8 });
    feed(limit, 10, 1);
    feed(limit, 30, 10);
    expect(limit.current).toBe(2);
    feed(limit, 10, 10);
    expect(limit.current).toBe(8);
  });

  it('the baseline follows a machine that became slower for good (it drifts up, 2% a window)', () => {
    const limit = new ConcurrencyLimit({ min: 1, max: 8 });
    feed(limit, 10, 1);
    feed(limit, 20, 60);
    // 10 x 1.02^n reaches 20 after ~35 windows: the slower machine is the new normal, the limit opens again.
    expect(limit.baselineMs).toBe(20);
    feed(limit, 20, 20);
    expect(limit.current).toBe(8);
  });

  it('BAD CALL - min below 1 or max below min is refused', () => {
    expect(() => new ConcurrencyLimit({ min: 0, max: 4 })).toThrow(RangeError);
    expect(() => new ConcurrencyLimit({ min: 4, max: 2 })).toThrow(RangeError);
  });
});

describe('the admission gate with an adaptive limit', () => {
  function manualClock(): { now: () => number; advance: (ms: number) => void } {
    let time = 0;
    return { now: () => time, advance: (ms) => void (time += ms) };
  }

  it('holds back places above a limit that has shrunk, and refills them when it grows', async () => {
    const clock = manualClock();
    const gate = new AdmissionGate({ concurrency: 4, minConcurrency: 2, maxWaiting: 100, waitTimeoutMs: 60_000, now: clock.now });
    expect(gate.concurrency).toBe(4);
    // 16 fast releases set the baseline (10 ms); 16 slow ones (40 ms, 4 in flight) shrink the limit.
    for (const heldMs of [10, 40]) {
      for (let index = 0; index < 16; index += 1) {
        const release = await gate.admit();
        clock.advance(heldMs);
        release();
      }
    }
    expect(gate.concurrency).toBe(2); // 4 x 12.5 / 40 + 0.25 = 1.5 -> min 2
    const first = await gate.admit();
    const second = await gate.admit();
    let third: Release | undefined;
    const waiting = gate.admit().then((release) => (third = release));
    await Promise.resolve();
    expect(third).toBeUndefined(); // a third place is held back
    expect(gate.waiting).toBe(1);
    clock.advance(10);
    first();
    await waiting;
    expect(third).toBeDefined(); // the freed place goes to the waiter
    second();
    third!();
    // Fast again: the limit grows back, and four are let in at once.
    for (let index = 0; index < 64; index += 1) {
      const release = await gate.admit();
      clock.advance(10);
      release();
    }
    expect(gate.concurrency).toBe(4);
    const four = await Promise.all([gate.admit(), gate.admit(), gate.admit(), gate.admit()]);
    expect(gate.inside).toBe(4);
    for (const release of four) release();
  });

  it('admissionGateFor: fixed by default, adaptive between the workers and the configured places when asked', async () => {
    const fixed = admissionGateFor(loadConfig({ runtime: { workers: 2 }, tasks: { concurrency: 4 } }));
    const adaptive = admissionGateFor(loadConfig({ runtime: { workers: 2 }, tasks: { concurrency: 4, adaptiveConcurrency: true } }));
    for (const gate of [fixed, adaptive]) expect(gate.concurrency).toBe(4);
    // Places held four times longer than the first ones: the adaptive gate shrinks, the fixed one does not.
    for (const gate of [fixed, adaptive]) {
      for (const heldMs of [10, 40]) {
        for (let index = 0; index < 16; index += 1) {
          const release = await gate.admit();
          const until = performance.now() + heldMs;
          while (performance.now() < until) {
            // Busy wait: the gate reads performance.now.
          }
          release();
        }
      }
    }
    expect(fixed.concurrency).toBe(4);
    expect(adaptive.concurrency).toBeLessThan(4);
  });

  it('defaultConcurrency: one place per worker, and a second per worker only for the spare cores', () => {
    expect(defaultConcurrency(2, 1, 2)).toBe(2); // 2 workers take both cores
    expect(defaultConcurrency(1, 1, 2)).toBe(2); // a spare core decodes while the worker infers
    expect(defaultConcurrency(2, 1, 3)).toBe(3);
    expect(defaultConcurrency(2, 1, 8)).toBe(4);
    expect(defaultConcurrency(2, 2, 4)).toBe(2); // 2 workers of 2 threads take 4 cores
    expect(defaultConcurrency(1, 1, 1)).toBe(1);
  });

  it('BAD CALL - minConcurrency above concurrency is refused', () => {
    expect(() => new AdmissionGate({ concurrency: 2, minConcurrency: 3, maxWaiting: 1, waitTimeoutMs: 1 })).toThrow(RangeError);
  });
});
