/**
 * Events per millisecond over the last second, in ten 100-ms buckets: cheap to record on every
 * request and to read on every heartbeat. A tier reports arrivals minus completions so others can
 * extrapolate its queue between heartbeats.
 */
const BUCKET_MS = 100;
const BUCKETS = 10;

export class RateMeter {
  readonly #counts = new Array<number>(BUCKETS).fill(0);
  #bucket = 0;
  #bucketStart: number;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.#bucketStart = now();
  }

  #advance(): void {
    const now = this.now();
    let steps = Math.floor((now - this.#bucketStart) / BUCKET_MS);
    if (steps <= 0) return;
    this.#bucketStart += steps * BUCKET_MS;
    steps = Math.min(steps, BUCKETS);
    for (let i = 0; i < steps; i += 1) {
      this.#bucket = (this.#bucket + 1) % BUCKETS;
      this.#counts[this.#bucket] = 0;
    }
  }

  record(count = 1): void {
    this.#advance();
    this.#counts[this.#bucket]! += count;
  }

  /** Events per ms over the window (the current, partly elapsed bucket included). */
  perMs(): number {
    this.#advance();
    const total = this.#counts.reduce((sum, count) => sum + count, 0);
    const spanMs = (BUCKETS - 1) * BUCKET_MS + Math.max(1, this.now() - this.#bucketStart);
    return total / spanMs;
  }
}
