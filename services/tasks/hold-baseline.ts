/**
 * How long a place in the task pipeline is held when the node is not crowded: the lowest median of
 * 16 consecutive hold times seen, rising 2% per 16 so that it follows a machine that became slower
 * for good. Under overload the hold time itself grows (waiting for a worker, cores shared with the
 * HTTP thread and the decoders); this is the yardstick that does not, which the adaptive limit
 * (concurrency-limit.ts) measures against.
 */

const WINDOW = 16;
const DRIFT = 0.02;

export class HoldBaseline {
  readonly #samples: number[] = [];
  #baselineMs = Number.POSITIVE_INFINITY;
  #lastMedianMs = Number.NaN;

  /** Records one hold time; returns the window's median when this sample completed a window. */
  observe(heldMs: number): number | undefined {
    if (!(heldMs >= 0) || !Number.isFinite(heldMs)) return undefined;
    this.#samples.push(heldMs);
    if (this.#samples.length < WINDOW) return undefined;
    const sorted = this.#samples.sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    this.#samples.length = 0;
    this.#lastMedianMs = median;
    this.#baselineMs = Math.min(this.#baselineMs * (1 + DRIFT), median);
    return median;
  }

  /** The baseline, ms; undefined before the first complete window. */
  get ms(): number | undefined {
    return Number.isFinite(this.#baselineMs) ? this.#baselineMs : undefined;
  }

  /** The median of the last complete window (NaN before the first). */
  get lastMedianMs(): number {
    return this.#lastMedianMs;
  }
}
