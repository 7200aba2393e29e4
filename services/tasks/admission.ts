/**
 * Admission to a task pipeline: at most `concurrency` requests are decoded, pre-processed and
 * inferred at once; the others wait, as their compressed bytes, in a bounded FIFO.
 *
 * Why: decoding is CPU and memory (a decoded photo is ~10x its JPEG, its tensor more). Without a
 * gate, a burst of N requests decodes N images at once, competing with inference for the same
 * cores and holding N rasters while the model queue drains at its own pace. With the gate, work
 * that cannot be inferred soon is not started, memory stays flat under overload, and past the
 * bound the answer is an immediate 503 with Retry-After.
 */
import type { Config } from '../core/config.ts';
import { EdgeError, cancelledError } from '../core/errors.ts';

export interface AdmissionOptions {
  /** Requests inside the pipeline at once. */
  concurrency: number;
  /** Requests waiting to enter; past this, EDGE_ERR_QUEUE_FULL at once. */
  maxWaiting: number;
  /** A request still waiting after this long fails with EDGE_ERR_QUEUE_TIMEOUT. */
  waitTimeoutMs: number;
}

export interface AdmitOptions {
  signal?: AbortSignal;
  /** The request's own deadline, if shorter than waitTimeoutMs. */
  timeoutMs?: number;
}

interface Waiter {
  admit: () => void;
  fail: (error: EdgeError) => void;
}

/** Releases the place taken; idempotent. */
export type Release = () => void;

const RETRY_AFTER_SECONDS = 1;

export class AdmissionGate {
  readonly #options: AdmissionOptions;
  readonly #waiting: Waiter[] = [];
  #inside = 0;

  constructor(options: AdmissionOptions) {
    if (!(options.concurrency >= 1) || !(options.maxWaiting >= 0)) throw new RangeError('admission needs concurrency >= 1 and maxWaiting >= 0');
    this.#options = options;
  }

  get inside(): number {
    return this.#inside;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Resolves with a release function once inside; rejects with QUEUE_FULL, QUEUE_TIMEOUT or REQUEST_CANCELLED. */
  admit(options: AdmitOptions = {}): Promise<Release> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(cancelledError(signal));
    if (this.#inside < this.#options.concurrency) {
      this.#inside += 1;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiting.length >= this.#options.maxWaiting) {
      return Promise.reject(
        new EdgeError('EDGE_ERR_QUEUE_FULL', `${this.#waiting.length} requests are already waiting to be processed (the limit)`, {
          details: { waiting: this.#waiting.length, concurrency: this.#options.concurrency },
          retryAfterSeconds: RETRY_AFTER_SECONDS,
        }),
      );
    }
    const waitMs = Math.max(0, Math.min(this.#options.waitTimeoutMs, options.timeoutMs ?? Number.POSITIVE_INFINITY));
    return new Promise<Release>((resolve, reject) => {
      const leave = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
      };
      const waiter: Waiter = {
        admit: () => {
          leave();
          resolve(this.#releaser());
        },
        fail: (error) => {
          leave();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.fail(cancelledError(signal!));
      const timer = setTimeout(
        () =>
          waiter.fail(
            new EdgeError('EDGE_ERR_QUEUE_TIMEOUT', `request waited ${waitMs} ms to be processed`, {
              details: { waitMs },
              retryAfterSeconds: RETRY_AFTER_SECONDS,
            }),
          ),
        waitMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting[0];
      // The place passes straight to the next waiter: `inside` stays the same.
      if (next) next.admit();
      else this.#inside -= 1;
    };
  }
}

/** The node's gate from config: every task (vision, inspection) shares it, since they share the cores. */
export function admissionGateFor(config: Readonly<Config>): AdmissionGate {
  return new AdmissionGate({
    concurrency: config.tasks.concurrency || 2 * config.runtime.workers,
    maxWaiting: config.tasks.maxWaiting,
    waitTimeoutMs: config.runtime.queueTimeoutMs,
  });
}
