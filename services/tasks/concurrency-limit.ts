/**
 * How many requests the admission gate lets into the task pipeline at once, learnt from how long a
 * place is held (Envoy's adaptive concurrency filter, gradient controller; Netflix
 * concurrency-limits' Gradient2).
 *
 * Why: more places than the cores can serve do not add throughput, they add waiting inside - for a
 * worker, for the decoder's threads, for the cores shared with the HTTP thread. That wait is paid by
 * every admitted request and is invisible to the gate's queue-delay target, which only sees the
 * queue in front of the gate. The right number depends on the machine (cores, other processes),
 * the model and the image sizes, so it is measured, not configured:
 *
 *   sample   = median hold time of the last window of releases
 *   baseline = the lowest sample seen, drifting up slowly so that it follows a machine that became slower
 *   limit    = clamp(limit x (baseline x (1 + tolerance) / sample) + headroom, min, max)
 *
 * When holding a place takes no longer than the baseline (plus the tolerance), the limit creeps up by
 * the headroom (more places may still add throughput); when it takes longer, the limit shrinks in
 * proportion. The bounds come from the runtime: never fewer places than inference workers (each
 * worker needs one), never more than the configured concurrency.
 */
import { HoldBaseline } from './hold-baseline.ts';

export interface ConcurrencyLimitOptions {
  min: number;
  max: number;
  /** Hold times up to this much above the baseline count as unloaded (Envoy's "buffer"). */
  tolerance?: number;
  /** Added each window: how fast the limit probes upwards when nothing is slower than the baseline. */
  headroom?: number;
}

const DEFAULT_TOLERANCE = 0.25;
const DEFAULT_HEADROOM = 0.25;
/** One window changes the limit by at most this factor either way (one noisy window must not collapse it). */
const MIN_GRADIENT = 0.5;
const MAX_GRADIENT = 1.5;

export class ConcurrencyLimit {
  readonly #min: number;
  readonly #max: number;
  readonly #tolerance: number;
  readonly #headroom: number;
  readonly #baseline = new HoldBaseline();
  #limit: number;

  constructor(options: ConcurrencyLimitOptions) {
    if (!(options.min >= 1) || !(options.max >= options.min)) throw new RangeError('a concurrency limit needs 1 <= min <= max');
    this.#min = options.min;
    this.#max = options.max;
    this.#tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
    this.#headroom = options.headroom ?? DEFAULT_HEADROOM;
    // Start open: an idle node serves its first burst with every place, and learns from it.
    this.#limit = this.#max;
  }

  /** Places allowed now (an integer in [min, max]). */
  get current(): number {
    return Math.max(this.#min, Math.min(this.#max, Math.floor(this.#limit)));
  }

  get baselineMs(): number {
    return this.#baseline.ms ?? Number.POSITIVE_INFINITY;
  }

  /** The median hold time of the last complete window (NaN before the first). */
  get lastSampleMs(): number {
    return this.#baseline.lastMedianMs;
  }

  /** Records one place's hold time; returns true when the limit was recomputed (once per window of 16). */
  observe(heldMs: number): boolean {
    const sample = this.#baseline.observe(heldMs);
    if (sample === undefined) return false;
    const gradient = Math.max(MIN_GRADIENT, Math.min(MAX_GRADIENT, (this.baselineMs * (1 + this.#tolerance)) / Math.max(sample, 1e-3)));
    this.#limit = Math.max(this.#min, Math.min(this.#max, this.#limit * gradient + this.#headroom));
    return true;
  }
}
