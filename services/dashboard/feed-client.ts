/**
 * One live (SSE) client's queue of serialised events. Bounded: when full, the oldest event is
 * dropped and counted, and the next read starts with a `gap` event saying how many were lost, so a
 * slow reader costs at most `capacity` events of memory and knows to reload the snapshot.
 */
export function formatEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class FeedClient {
  readonly #queue: string[] = [];
  readonly #capacity: number;
  readonly #onClose: () => void;
  #lost = 0;
  #lostTotal = 0;
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(capacity: number, onClose: () => void) {
    this.#capacity = capacity;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Events waiting to be written. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Events dropped since the client connected. */
  get lost(): number {
    return this.#lostTotal;
  }

  push(event: string, data: unknown): void {
    this.pushText(formatEvent(event, data));
  }

  pushText(text: string): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#capacity) {
      this.#queue.shift();
      this.#lost += 1;
      this.#lostTotal += 1;
    }
    this.#queue.push(text);
    this.#wake?.();
  }

  /** Everything queued (a `gap` event first if some were dropped), emptying the queue. */
  take(): string[] {
    const out = this.#lost > 0 ? [formatEvent('gap', { lost: this.#lost })] : [];
    this.#lost = 0;
    out.push(...this.#queue.splice(0));
    return out;
  }

  /** Resolves when an event is queued or the client closes. */
  wait(): Promise<void> {
    if (this.#closed || this.#queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        resolve();
      };
    });
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#onClose();
    this.#wake?.();
  }
}
