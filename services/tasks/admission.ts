/**
 * Admission to a task pipeline: at most `concurrency` requests are decoded, pre-processed and
 * inferred at once; the others wait, as their compressed bytes, in a FIFO bounded by TIME.
 *
 * Why a gate: decoding is CPU and memory (a decoded photo is ~10x its JPEG, its tensor more).
 * Without one, a burst of N requests decodes N images at once, competing with inference for the
 * same cores and holding N rasters while the model queue drains at its own pace.
 *
 * Why bounded by time, not only by length: a FIFO of 64 waiters in front of 4 places makes the
 * 64th wait 16 service times, so under overload every admitted request is slow and most of them
 * miss their deadline anyway. What the gate bounds is the predicted wait of the newcomer:
 *
 *   predicted wait = (waiters ahead + 1) x service time / concurrency        (Little's law)
 *
 * where the service time is an EWMA of how long a place is held (admit -> release). While the queue
 * is STANDING - it has not emptied for longer than max(maxQueueDelayMs, 4 service times) - a
 * request whose predicted wait exceeds `maxQueueDelayMs` is refused at once with 503
 * EDGE_ERR_QUEUE_FULL and a Retry-After of the predicted drain time, so a refusal costs microseconds
 * and the admitted keep a latency near the unloaded one. A burst after a quiet period is a good
 * queue (it drains by itself) and may wait up to 4 service times (bounded by maxWaiting too); the
 * standing state ends once an interval passes with the queue empty and nobody refused. At any
 * time, a request whose own deadline ends before it is predicted to start is refused at once (same
 * code, reason "deadline"). docs/overload.md has the reasons, the defaults and the measured figures.
 *
 * What this follows: CoDel (Nichols & Jacobson, "Controlling Queue Delay", ACM Queue 2012) - control
 * the time spent in the queue, not its length, since only time is what a client feels, and tell a
 * good queue (a burst) from a bad one (standing for longer than an interval); Triton's
 * queue policy (max_queue_delay / default_timeout_microseconds with timeout_action REJECT, plus
 * max_queue_size as a hard cap) - refuse rather than serve late; Envoy's adaptive concurrency filter -
 * latency is measured online from the requests themselves, not configured. Unlike CoDel we refuse
 * at the door instead of dropping at the head: a refused request has cost nothing, a dropped one
 * has waited for nothing. `maxWaiting` stays as the hard cap (memory), and a waiter still leaves
 * when its own deadline or `waitTimeoutMs` passes (estimates can be wrong).
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Config } from '../core/config.ts';
import { EdgeError, cancelledError } from '../core/errors.ts';
import { ConcurrencyLimit } from './concurrency-limit.ts';

export interface AdmissionOptions {
  /** Requests inside the pipeline at once (with minConcurrency: at most). */
  concurrency: number;
  /**
   * Set below `concurrency`: the number of places adapts between the two from how long a place is
   * held (services/tasks/concurrency-limit.ts); unset: always `concurrency`.
   */
  minConcurrency?: number;
  /** Requests waiting to enter; past this, EDGE_ERR_QUEUE_FULL at once (hard cap). */
  maxWaiting: number;
  /** A request still waiting after this long fails with EDGE_ERR_QUEUE_TIMEOUT. */
  waitTimeoutMs: number;
  /**
   * Predicted wait past which a request is refused at once (EDGE_ERR_QUEUE_FULL); 0 or absent: no
   * time bound, only maxWaiting. Applies once a service time has been measured.
   */
  maxQueueDelayMs?: number;
  /** Clock in ms (tests); performance.now by default. */
  now?: () => number;
}

export interface AdmitOptions {
  signal?: AbortSignal;
  /** The request's own remaining deadline, if shorter than waitTimeoutMs. */
  timeoutMs?: number;
}

interface Waiter {
  admit: () => void;
  fail: (error: EdgeError) => void;
}

/** Which rule refused a newcomer (the refusal's details.reason; docs/overload.md). */
type RefusalReason = 'max-waiting' | 'queue-delay' | 'burst' | 'deadline';

/** Releases the place taken; idempotent. */
export type Release = () => void;

/** Weight of the newest sample in the service-time EWMA: about the last 10 requests count. */
const EWMA_WEIGHT = 0.1;
/** Outside a standing queue, a burst may wait this many service times (or the target, if longer). */
const BURST_SERVICE_TIMES = 4;
const MIN_RETRY_AFTER_SECONDS = 1;
const MAX_RETRY_AFTER_SECONDS = 30;

export class AdmissionGate {
  readonly #options: AdmissionOptions;
  readonly #now: () => number;
  readonly #waiting: Waiter[] = [];
  #inside = 0;
  /** EWMA of the time a place is held, ms; 0 until the first release. */
  #serviceMs = 0;
  /** When the waiting list last became non-empty / empty (clock ms). */
  #queuedSince = 0;
  #emptySince = 0;
  /** When a newcomer was last refused for the queue-delay target (clock ms). */
  #refusedAt = Number.NEGATIVE_INFINITY;
  /** A standing queue: the strict queue-delay target applies (CoDel's "dropping" state). */
  #standing = false;
  /** The adaptive number of places; undefined: fixed at options.concurrency. */
  readonly #limit: ConcurrencyLimit | undefined;

  constructor(options: AdmissionOptions) {
    if (!(options.concurrency >= 1) || !(options.maxWaiting >= 0)) throw new RangeError('admission needs concurrency >= 1 and maxWaiting >= 0');
    if (options.maxQueueDelayMs !== undefined && !(options.maxQueueDelayMs >= 0)) throw new RangeError('admission needs maxQueueDelayMs >= 0');
    if (options.minConcurrency !== undefined && !(options.minConcurrency >= 1 && options.minConcurrency <= options.concurrency)) throw new RangeError('admission needs 1 <= minConcurrency <= concurrency');
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#limit = options.minConcurrency !== undefined && options.minConcurrency < options.concurrency ? new ConcurrencyLimit({ min: options.minConcurrency, max: options.concurrency }) : undefined;
  }

  /** Places in the pipeline allowed now: fixed, or what the adaptive limit has learnt. */
  get concurrency(): number {
    return this.#limit?.current ?? this.#options.concurrency;
  }

  get inside(): number {
    return this.#inside;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** The current estimate of how long a request holds its place, ms (0 before any was measured). */
  get serviceMs(): number {
    return this.#serviceMs;
  }

  /** Whether the queue is standing (the queue-delay target is being enforced). */
  get standing(): boolean {
    this.#updateStanding();
    return this.#standing;
  }

  /** How long a request arriving now is predicted to wait for a place, ms. */
  predictedWaitMs(): number {
    const concurrency = this.concurrency;
    if (this.#inside < concurrency) return 0;
    return ((this.#waiting.length + 1) * this.#serviceMs) / concurrency;
  }

  /**
   * Resolves with a release function once inside; rejects with QUEUE_FULL (at once: no room, or a
   * predicted wait past the queue-delay target or the request's deadline), QUEUE_TIMEOUT (waited
   * past it after all) or REQUEST_CANCELLED.
   */
  admit(options: AdmitOptions = {}): Promise<Release> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(cancelledError(signal));
    // Nobody waiting is passed over: with places free and a queue, the queue goes first.
    if (this.#placeFree()) {
      this.#inside += 1;
      return Promise.resolve(this.#releaser());
    }
    const refusal = this.#refusal(options.timeoutMs);
    if (refusal) return Promise.reject(refusal);
    const waitMs = Math.max(0, Math.min(this.#options.waitTimeoutMs, options.timeoutMs ?? Number.POSITIVE_INFINITY));
    return new Promise<Release>((resolve, reject) => {
      const leave = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        // Judged before the queue shrinks: a queue that stood for an interval stood, even if it empties now.
        this.#updateStanding();
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        if (index >= 0 && this.#waiting.length === 0) this.#emptySince = this.#now();
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
              retryAfterSeconds: this.#retryAfterSeconds(this.predictedWaitMs()),
            }),
          ),
        waitMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.#waiting.length === 0) this.#queuedSince = this.#now();
      this.#waiting.push(waiter);
    });
  }

  /**
   * Which rule refuses a newcomer that finds every place taken, or undefined when it may wait. The
   * one decision behind admit() and refusesNow(); it changes nothing (admit() records the refusal).
   */
  #refusalReason(timeoutMs: number | undefined): RefusalReason | undefined {
    const { maxWaiting, maxQueueDelayMs = 0 } = this.#options;
    if (this.#waiting.length >= maxWaiting) return 'max-waiting';
    // Before the first measurement there is nothing to predict with: only the hard cap applies.
    if (this.#serviceMs === 0) return undefined;
    const predictedMs = this.predictedWaitMs();
    if (maxQueueDelayMs > 0) {
      const standing = this.standing;
      if (predictedMs > this.#queueDelayLimitMs(standing)) return standing ? 'queue-delay' : 'burst';
    }
    // Work that cannot start before its deadline is refused now rather than after the wait.
    if (timeoutMs !== undefined && predictedMs >= timeoutMs) return 'deadline';
    return undefined;
  }

  /** The answer to a newcomer that may not wait (see #refusalReason), or undefined when it may. */
  #refusal(timeoutMs: number | undefined): EdgeError | undefined {
    const reason = this.#refusalReason(timeoutMs);
    if (reason === undefined) return undefined;
    const { maxWaiting, maxQueueDelayMs = 0 } = this.#options;
    const concurrency = this.concurrency;
    const waiting = this.#waiting.length;
    const predictedMs = this.predictedWaitMs();
    const details = { waiting, concurrency, predicted_wait_ms: Math.round(predictedMs), service_ms: Math.round(this.#serviceMs), reason };
    const retryAfterSeconds = this.#retryAfterSeconds(predictedMs);
    switch (reason) {
      case 'max-waiting':
        return new EdgeError('EDGE_ERR_QUEUE_FULL', `${waiting} requests are already waiting to be processed (the limit)`, {
          details: { ...details, max_waiting: maxWaiting },
          retryAfterSeconds,
        });
      case 'queue-delay':
      case 'burst': {
        // Refusing keeps the queue empty: the standing state must not end for that alone.
        if (reason === 'queue-delay') this.#refusedAt = this.#now();
        const limitMs = this.#queueDelayLimitMs(reason === 'queue-delay');
        return new EdgeError('EDGE_ERR_QUEUE_FULL', `the node is overloaded: a new request would wait about ${Math.round(predictedMs)} ms (at most ${Math.round(limitMs)} ms allowed now)`, {
          details: { ...details, limit_ms: Math.round(limitMs), max_queue_delay_ms: maxQueueDelayMs },
          retryAfterSeconds,
        });
      }
      case 'deadline':
        return new EdgeError('EDGE_ERR_QUEUE_FULL', `the node is too busy to start this request within its deadline (${Math.round(timeoutMs!)} ms left, about ${Math.round(predictedMs)} ms of wait)`, {
          details: { ...details, timeout_ms: Math.round(timeoutMs!) },
          retryAfterSeconds,
        });
    }
  }

  /** A standing queue is held to the target; a burst may wait a few service times more. */
  #queueDelayLimitMs(standing: boolean): number {
    const { maxQueueDelayMs = 0 } = this.#options;
    return standing ? maxQueueDelayMs : Math.max(maxQueueDelayMs, this.#burstMs());
  }

  /** A place is free and nobody waits for one: a newcomer enters at once. */
  #placeFree(): boolean {
    return this.#inside < this.concurrency && this.#waiting.length === 0;
  }

  /**
   * Whether a newcomer (without a deadline of its own) would be refused at once now. The placement
   * engine asks: a node that is shedding load is a last resort, another tier takes the request.
   */
  refusesNow(): boolean {
    return !this.#placeFree() && this.#refusalReason(undefined) !== undefined;
  }

  /**
   * CoDel's good queue / bad queue: a queue that has not emptied for longer than the interval is
   * standing; it stops standing once a whole interval has passed with the queue empty and nobody
   * refused (refusing keeps the queue empty: that alone must not end the overload). The interval
   * is the target or the burst allowance (4 service times), whichever is longer: a burst the gate
   * let in drains within it, whatever the model's speed, and requests arriving meanwhile still
   * queue behind it.
   */
  #updateStanding(): void {
    const { maxQueueDelayMs = 0 } = this.#options;
    const interval = Math.max(maxQueueDelayMs, this.#burstMs());
    const now = this.#now();
    if (this.#waiting.length > 0) {
      if (!this.#standing && now - this.#queuedSince >= interval) this.#standing = true;
    } else if (this.#standing && now - this.#emptySince >= interval && now - this.#refusedAt >= interval) {
      this.#standing = false;
    }
  }

  /**
   * A burst's allowance (and CoDel's interval): 4 hold times as they are now. Counted in unloaded
   * hold times instead (tried), a burst of 6 on one worker - which needs 6 of them to drain -
   * counted as a standing queue and the request after it was refused; and the overload's first
   * second did not get better for it (its tail is the clients opening connections).
   */
  #burstMs(): number {
    return BURST_SERVICE_TIMES * this.#serviceMs;
  }

  #retryAfterSeconds(predictedMs: number): number {
    return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(MIN_RETRY_AFTER_SECONDS, Math.ceil(predictedMs / 1000)));
  }

  #observe(heldMs: number): void {
    if (!(heldMs >= 0) || !Number.isFinite(heldMs)) return;
    this.#serviceMs = this.#serviceMs === 0 ? heldMs : this.#serviceMs + EWMA_WEIGHT * (heldMs - this.#serviceMs);
    this.#limit?.observe(heldMs);
  }

  #releaser(): Release {
    let released = false;
    const since = this.#now();
    return () => {
      if (released) return;
      released = true;
      this.#observe(this.#now() - since);
      this.#inside -= 1;
      // The freed place (and any the limit has just added) go to the waiters in order; a limit that
      // has shrunk below the places in use admits nobody until enough have been released.
      while (this.#inside < this.concurrency && this.#waiting.length > 0) {
        this.#inside += 1;
        this.#waiting[0]!.admit();
      }
    };
  }
}

/**
 * Places in the pipeline when the operator did not fix them: one per inference worker, and one more
 * per worker only where a core is left over to decode the next image while the worker infers. Where
 * the workers already take every core (2 workers on 2 cores), a second place per worker overlaps
 * nothing: it only makes both requests slower. Measured at 3x overload on 2 cores (docs/overload.md):
 * 4 places admitted with a median of 21-24 ms against 12-13 ms with 2, for 10-18% more goodput.
 */
export function defaultConcurrency(workers: number, intraOpThreads: number, cores: number): number {
  const spareCores = Math.max(0, cores - workers * intraOpThreads);
  return workers + Math.min(workers, spareCores);
}

/** The node's gate from config: every task (vision, inspection) shares it, since they share the cores. */
export function admissionGateFor(config: Readonly<Config>): AdmissionGate {
  const concurrency = config.tasks.concurrency || defaultConcurrency(config.runtime.workers, config.runtime.intraOpThreads, os.availableParallelism());
  return new AdmissionGate({
    concurrency,
    // With tasks.adaptiveConcurrency: between one place per inference worker and the configured number.
    ...(config.tasks.adaptiveConcurrency ? { minConcurrency: Math.min(concurrency, config.runtime.workers) } : {}),
    maxWaiting: config.tasks.maxWaiting,
    waitTimeoutMs: config.runtime.queueTimeoutMs,
    maxQueueDelayMs: config.tasks.maxQueueDelayMs,
  });
}
