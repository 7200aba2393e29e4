/**
 * Online estimators the cost model reads: compute time per (tier, model), and per link its
 * round-trip time and bandwidth. Every completed request feeds them, so predictions follow the
 * machine and the links as they change. Exponentially weighted, with a spread, so a deadline
 * check can ask for a pessimistic figure (about one run in six slower) and not only the mean.
 */

/** An exponentially weighted mean and variance (West's incremental form). */
export class Ewma {
  #mean: number | undefined;
  #variance = 0;
  #count = 0;

  /** alpha: weight of each new sample; 0.2 forgets a step change within about ten samples. */
  constructor(
    readonly alpha = 0.2,
    prior?: number,
  ) {
    if (prior !== undefined) this.#mean = prior;
  }

  update(sample: number): void {
    if (!Number.isFinite(sample)) return;
    this.#count += 1;
    if (this.#mean === undefined) {
      this.#mean = sample;
      return;
    }
    const diff = sample - this.#mean;
    const increment = this.alpha * diff;
    this.#mean += increment;
    this.#variance = (1 - this.alpha) * (this.#variance + diff * increment);
  }

  get mean(): number | undefined {
    return this.#mean;
  }

  get std(): number {
    return Math.sqrt(this.#variance);
  }

  /** Samples seen (a prior counts as none). */
  get count(): number {
    return this.#count;
  }
}

/** What a link looks like from the tier that estimates it. */
export interface LinkEstimate {
  /** Round-trip time in ms. */
  rttMs: number;
  /** Bytes per millisecond each way (1 Mbit/s = 125 bytes/ms). */
  bytesPerMs: number;
}

/** Bytes per millisecond of a bandwidth in Mbit/s. */
export function mbitToBytesPerMs(mbit: number): number {
  return (mbit * 1_000_000) / 8 / 1000;
}

/**
 * One link's RTT and bandwidth. RTT comes from small heartbeat requests (almost no transfer
 * time); bandwidth from larger transfers, once their RTT and the remote's own processing time are
 * taken off. Transfers smaller than `minTransferBytes` say nothing about bandwidth.
 */
export class LinkEstimator {
  readonly #rtt: Ewma;
  readonly #bandwidth: Ewma;

  constructor(
    prior: LinkEstimate,
    readonly minTransferBytes = 16 * 1024,
  ) {
    this.#rtt = new Ewma(0.3, prior.rttMs);
    this.#bandwidth = new Ewma(0.3, prior.bytesPerMs);
  }

  observeRtt(ms: number): void {
    if (ms >= 0) this.#rtt.update(ms);
  }

  /** A transfer of `bytes` (both ways together) whose network share took `networkMs` in all. */
  observeTransfer(bytes: number, networkMs: number): void {
    if (bytes < this.minTransferBytes) return;
    const transferMs = networkMs - (this.#rtt.mean ?? 0);
    // Below a millisecond the timer's resolution says more than the link does.
    if (transferMs < 1) return;
    this.#bandwidth.update(bytes / transferMs);
  }

  estimate(): LinkEstimate {
    return { rttMs: this.#rtt.mean ?? 0, bytesPerMs: Math.max(1e-3, this.#bandwidth.mean ?? 1) };
  }
}

/**
 * A quantile of the last `size` samples (a ring, sorted on update: a few dozen numbers). Heavy
 * tails are the rule on a shared machine (a run held up by a neighbour takes 3-6x its median), and
 * a standard deviation inflated by one such run says little about the next request: one run of
 * 340 ms among 60 ms ones puts mean + 1 std of an EWMA past 220 ms, while five in six runs still
 * take under 100. The quantile of recent runs is what a deadline check needs.
 */
export class RecentQuantile {
  readonly #ring: number[] = [];
  #next = 0;
  #value: number | undefined;

  constructor(
    readonly quantile: number,
    readonly size = 32,
  ) {}

  update(sample: number): void {
    if (!Number.isFinite(sample)) return;
    if (this.#ring.length < this.size) this.#ring.push(sample);
    else this.#ring[this.#next] = sample;
    this.#next = (this.#next + 1) % this.size;
    const sorted = [...this.#ring].sort((a, b) => a - b);
    this.#value = sorted[Math.min(sorted.length - 1, Math.floor(this.quantile * sorted.length))];
  }

  get count(): number {
    return this.#ring.length;
  }

  get value(): number | undefined {
    return this.#value;
  }
}

/** Samples before a recent quantile replaces the EWMA's standard deviation as the spread. */
const MIN_SAMPLES_FOR_QUANTILE = 8;
/** mean + 1 std of a normal distribution is its 84th percentile: the same margin, robust to tails. */
const SPREAD_QUANTILE = 0.84;

interface ComputeTrack {
  ewma: Ewma;
  recent: RecentQuantile;
}

/** Compute times per (tier, model), learned from observed runs, seeded by priors. */
export class ComputeEstimator {
  readonly #table = new Map<string, ComputeTrack>();

  constructor(readonly alpha = 0.2) {}

  static key(tier: string, model: string): string {
    return `${tier}/${model}`;
  }

  /** A starting figure (from a benchmark or a model card) until real runs replace it. */
  prior(tier: string, model: string, ms: number): void {
    const key = ComputeEstimator.key(tier, model);
    if (!this.#table.has(key)) this.#table.set(key, { ewma: new Ewma(this.alpha, ms), recent: new RecentQuantile(SPREAD_QUANTILE) });
  }

  observe(tier: string, model: string, ms: number): void {
    const key = ComputeEstimator.key(tier, model);
    let track = this.#table.get(key);
    if (!track) {
      track = { ewma: new Ewma(this.alpha), recent: new RecentQuantile(SPREAD_QUANTILE) };
      this.#table.set(key, track);
    }
    track.ewma.update(ms);
    track.recent.update(ms);
  }

  /**
   * Mean and spread, or undefined when nothing is known (no prior, no run). `stdMs` is the margin
   * above the mean that about one run in six exceeds: the 84th percentile of recent runs less the
   * mean once there are enough of them (a standard deviation for normal times, robust to tails),
   * the EWMA's standard deviation before.
   */
  estimate(tier: string, model: string): { meanMs: number; stdMs: number } | undefined {
    const track = this.#table.get(ComputeEstimator.key(tier, model));
    if (!track || track.ewma.mean === undefined) return undefined;
    const mean = track.ewma.mean;
    const high = track.recent.value;
    const stdMs = track.recent.count >= MIN_SAMPLES_FOR_QUANTILE && high !== undefined ? Math.max(0, high - mean) : track.ewma.std;
    return { meanMs: mean, stdMs };
  }

  /** Every (tier, model) with its mean, for status reports. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, { ewma }] of this.#table) if (ewma.mean !== undefined) out[key] = Math.round(ewma.mean * 100) / 100;
    return out;
  }
}

/** What each privacy transform costs on this tier, learned from the runs (EWMA, ms). */
export class TransformCosts {
  readonly #ms = new Map<string, number>();

  /** Starting figures (ms) until real runs replace them: unknown would count as free. */
  constructor(priors: Readonly<Record<string, number>> = {}) {
    for (const [transform, ms] of Object.entries(priors)) this.#ms.set(transform, ms);
  }

  /** `ms` spent on `transforms` together, shared among them equally. */
  observe(transforms: readonly string[], ms: number): void {
    if (transforms.length === 0) return;
    const each = ms / transforms.length;
    for (const transform of transforms) {
      const previous = this.#ms.get(transform);
      this.#ms.set(transform, Math.round((previous === undefined ? each : 0.8 * previous + 0.2 * each) * 100) / 100);
    }
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#ms);
  }
}
