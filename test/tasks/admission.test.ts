/**
 * The admission gate in front of the vision pipeline: a bound on requests in flight, a bounded FIFO
 * of waiters, and fast, coded failures past it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { AdmissionGate, type Release } from '../../services/tasks/admission.ts';
import { codeOf } from '../support/code-of.ts';
import { openVision } from './vision-setup.ts';

const gate = (concurrency: number, maxWaiting: number, waitTimeoutMs = 10_000) => new AdmissionGate({ concurrency, maxWaiting, waitTimeoutMs });

describe('admission gate', () => {
  it('admits up to its concurrency at once, then first come first served as places free', async () => {
    const admission = gate(2, 10);
    const first = await admission.admit();
    const second = await admission.admit();
    const order: number[] = [];
    const waiters = [3, 4, 5].map((n) => admission.admit().then((release) => (order.push(n), release)));
    await new Promise((resolve) => setImmediate(resolve));
    expect({ inside: admission.inside, waiting: admission.waiting, order }).toEqual({ inside: 2, waiting: 3, order: [] });

    first();
    const third = await waiters[0]!;
    expect({ inside: admission.inside, waiting: admission.waiting, order }).toEqual({ inside: 2, waiting: 2, order: [3] });
    second();
    third();
    const rest = await Promise.all(waiters.slice(1));
    expect(order).toEqual([3, 4, 5]);
    rest.forEach((release: Release) => release());
    expect({ inside: admission.inside, waiting: admission.waiting }).toEqual({ inside: 0, waiting: 0 });
  });

  it('a release called twice frees one place only', async () => {
    const admission = gate(1, 5);
    const release = await admission.admit();
    const next = admission.admit();
    release();
    release();
    const second = await next;
    expect(admission.inside).toBe(1);
    second();
    expect(admission.inside).toBe(0);
  });

  it('BAD CALL - past maxWaiting -> EDGE_ERR_QUEUE_FULL at once, with Retry-After', async () => {
    const admission = gate(1, 1);
    await admission.admit();
    const waiting = admission.admit();
    const started = performance.now();
    const overflow = admission.admit();
    await expect(overflow).rejects.toMatchObject({ code: 'EDGE_ERR_QUEUE_FULL', retryAfterSeconds: 1 });
    expect(performance.now() - started).toBeLessThan(50);
    expect(admission.waiting).toBe(1);
    void waiting.catch(() => undefined);
  });

  it('BAD CALL - waiting past waitTimeoutMs or the request deadline -> EDGE_ERR_QUEUE_TIMEOUT, and the waiter leaves', async () => {
    const admission = gate(1, 5, 30);
    await admission.admit();
    expect(await codeOf(admission.admit())).toBe('EDGE_ERR_QUEUE_TIMEOUT');
    expect(await codeOf(admission.admit({ timeoutMs: 5 }))).toBe('EDGE_ERR_QUEUE_TIMEOUT');
    expect(admission.waiting).toBe(0);
  });

  it('BAD CALL - a cancelled waiter -> EDGE_ERR_REQUEST_CANCELLED and gives its turn to the next', async () => {
    const admission = gate(1, 5);
    const holder = await admission.admit();
    const controller = new AbortController();
    const cancelled = admission.admit({ signal: controller.signal });
    const next = admission.admit();
    controller.abort(new Error('client left'));
    expect(await codeOf(cancelled)).toBe('EDGE_ERR_REQUEST_CANCELLED');
    holder();
    const release = await next;
    expect(admission.inside).toBe(1);
    release();
    expect(await codeOf(admission.admit({ signal: AbortSignal.abort() }))).toBe('EDGE_ERR_REQUEST_CANCELLED');
    expect(admission.inside).toBe(0);
  });

  it('BAD CALL - a gate without room is refused at construction', () => {
    expect(() => gate(0, 1)).toThrow(RangeError);
  });
});

describe('admission in front of the real vision pipeline', () => {
  it('BAD CALL - a burst past concurrency + maxWaiting: the excess fails fast with EDGE_ERR_QUEUE_FULL, the admitted all succeed', async () => {
    const dog = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/images/dog.jpg'));
    const vision = await openVision(['nanodet'], { concurrency: 1, maxWaiting: 2 });
    try {
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => codeOf(vision.tasks.detect(dog, { model: 'nanodet' }))));
      expect(outcomes.filter((code) => code === 'RESOLVED')).toHaveLength(3);
      expect(outcomes.filter((code) => code === 'EDGE_ERR_QUEUE_FULL')).toHaveLength(5);
      // The gate is empty again: the next request goes straight in.
      expect(await codeOf(vision.tasks.detect(dog, { model: 'nanodet' }))).toBe('RESOLVED');
    } finally {
      await vision.repository.close();
    }
  });
});
