/**
 * Online estimators the cost model reads: compute time per (tier, model), and per link its
 * round-trip time and bandwidth. Every completed request feeds them, so predictions follow the
 * machine and the links as they change. Exponentially weighted, with a variance, so a deadline
 * check can ask for a pessimistic figure (mean + k standard deviations) and not only the mean.
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

/** Compute times per (tier, model), learned from observed runs, seeded by priors. */
export class ComputeEstimator {
  readonly #table = new Map<string, Ewma>();

  constructor(readonly alpha = 0.2) {}

  static key(tier: string, model: string): string {
    return `${tier}/${model}`;
  }

  /** A starting figure (from a benchmark or a model card) until real runs replace it. */
  prior(tier: string, model: string, ms: number): void {
    const key = ComputeEstimator.key(tier, model);
    if (!this.#table.has(key)) this.#table.set(key, new Ewma(this.alpha, ms));
  }

  observe(tier: string, model: string, ms: number): void {
    const key = ComputeEstimator.key(tier, model);
    let ewma = this.#table.get(key);
    if (!ewma) {
      ewma = new Ewma(this.alpha);
      this.#table.set(key, ewma);
    }
    ewma.update(ms);
  }

  /** Mean and standard deviation, or undefined when nothing is known (no prior, no run). */
  estimate(tier: string, model: string): { meanMs: number; stdMs: number } | undefined {
    const ewma = this.#table.get(ComputeEstimator.key(tier, model));
    if (!ewma || ewma.mean === undefined) return undefined;
    return { meanMs: ewma.mean, stdMs: ewma.std };
  }

  /** Every (tier, model) with its mean, for status reports. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, ewma] of this.#table) if (ewma.mean !== undefined) out[key] = Math.round(ewma.mean * 100) / 100;
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
