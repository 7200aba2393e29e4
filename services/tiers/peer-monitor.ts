/**
 * Watches one other tier: a heartbeat (GET /v1/tier/status) on an interval measures the link's RTT
 * and brings the tier's load; missed heartbeats and failed forwards in a row mark it unreachable
 * (a circuit breaker), and the next answered heartbeat marks it reachable again. The placement
 * engine reads `view()`; nothing here decides anything.
 */
import type { EdgeError } from '../core/errors.ts';
import { LinkEstimator, mbitToBytesPerMs } from '../scheduler/estimators.ts';
import type { TierClient } from './tier-client.ts';
import { isOverloadRefusal, isTierFailure, refusalOf, REFUSING_STATUS_FRESH_MS } from './tier-failure.ts';
import type { PeerView, TierStatus } from './tier-status.ts';

export interface PeerMonitorOptions {
  client: TierClient;
  intervalMs: number;
  timeoutMs: number;
  /** Misses in a row that make the tier unreachable. */
  missesToUnreachable: number;
  prior: { rttMs: number; bandwidthMbit: number };
}

const MIN_REFUSING_MS = 250;
const MAX_REFUSING_MS = 2_000;

export class PeerMonitor {
  readonly link: LinkEstimator;
  readonly #options: PeerMonitorOptions;
  #status: TierStatus | undefined;
  /** When the status was measured there: its answer's arrival minus half the round trip. */
  #statusAt = 0;
  #misses = 0;
  #lastProblem: string | undefined = 'no heartbeat answered yet';
  #timer: NodeJS.Timeout | undefined;
  /** Until when (performance.now ms) the tier is left alone after it refused work as overloaded. */
  #refusingUntil = 0;
  #inFlight: Promise<void> | undefined;
  #stopped = false;

  constructor(options: PeerMonitorOptions) {
    this.#options = options;
    this.link = new LinkEstimator({ rttMs: options.prior.rttMs, bytesPerMs: mbitToBytesPerMs(options.prior.bandwidthMbit) });
  }

  start(): void {
    if (this.#timer || this.#stopped) return;
    const tick = () => {
      // One heartbeat at a time: a stalled link must not pile up requests.
      this.#inFlight ??= this.beat().finally(() => {
        this.#inFlight = undefined;
      });
    };
    tick();
    this.#timer = setInterval(tick, this.#options.intervalMs);
    this.#timer.unref();
  }

  /** One heartbeat now (also what start() runs on its interval). */
  async beat(): Promise<void> {
    try {
      const response = await this.#options.client.get('/v1/tier/status', { timeoutMs: this.#options.timeoutMs });
      if (this.#stopped) return;
      this.link.observeRtt(response.elapsedMs);
      this.#status = response.body as TierStatus;
      this.#statusAt = performance.now() - response.elapsedMs / 2;
      this.reportSuccess();
    } catch (error) {
      if (!this.#stopped) this.reportFailure(`heartbeat: ${(error as Error).message}`);
    }
  }

  reportSuccess(): void {
    this.#misses = 0;
    this.#lastProblem = undefined;
  }

  /** A missed heartbeat or a failed forward. */
  reportFailure(problem: string): void {
    this.#misses += 1;
    this.#lastProblem = problem;
  }

  /**
   * The tier refused work as overloaded (QUEUE_FULL, RATE_LIMITED): not a link failure. It is left
   * alone for its Retry-After, at most MAX_REFUSING_MS (a second by default): long enough for its
   * queue to drain, short enough that a busy moment does not cost more than that.
   */
  reportOverload(retryAfterSeconds: number | undefined): void {
    const forMs = Math.min(MAX_REFUSING_MS, Math.max(MIN_REFUSING_MS, (retryAfterSeconds ?? 1) * 1000));
    this.#refusingUntil = Math.max(this.#refusingUntil, performance.now() + forMs);
  }

  /** How much longer the tier is left alone after an overload refusal, ms (0: not refusing). */
  refusingForMs(): number {
    return Math.max(0, this.#refusingUntil - performance.now());
  }

  /**
   * What a failed call to the tier says about it: an overload refusal leaves it alone for its
   * Retry-After, a failure of the link or the tier counts toward the breaker, and anything else (the
   * request's own fault, say a bad image) says nothing.
   */
  reportCallFailure(failure: EdgeError): void {
    if (isOverloadRefusal(failure)) this.reportOverload(failure.retryAfterSeconds);
    else if (isTierFailure(failure)) this.reportFailure(failure.message);
  }

  /** Whether the tier refuses new work as overloaded now, as the placement engine reads it (TierView.refusing). */
  refusal(): { refusing?: { because: string } } {
    return refusalOf(this.refusingForMs(), this.#status?.load.refusing === true && this.statusAgeMs() < REFUSING_STATUS_FRESH_MS);
  }

  get reachable(): boolean {
    return this.#status !== undefined && this.#misses < this.#options.missesToUnreachable;
  }

  get status(): TierStatus | undefined {
    return this.#status;
  }

  /** How old the last status is, ms (0 before the first). */
  statusAgeMs(): number {
    return this.#status === undefined ? 0 : performance.now() - this.#statusAt;
  }

  view(): PeerView {
    const link = this.link.estimate();
    return {
      reachable: this.reachable,
      ...(this.reachable ? {} : { unreachable_because: this.#lastProblem ?? 'missed heartbeats' }),
      rtt_ms: Math.round(link.rttMs * 100) / 100,
      bytes_per_ms: Math.round(link.bytesPerMs * 100) / 100,
      ...(this.#status ? { status_age_ms: Math.round(this.statusAgeMs()), status: this.#status } : {}),
      ...(this.refusingForMs() > 0 ? { refusing_for_ms: Math.round(this.refusingForMs()) } : {}),
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight?.catch(() => undefined);
  }
}
