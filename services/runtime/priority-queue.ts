/**
 * A model's waiting requests: higher priority first, first come first served within a priority.
 * Bounded by its owner (the runtime rejects past maxQueueSize), so sorted insertion is cheap.
 */
export interface Prioritised {
  readonly priority: number;
  /** Arrival order, increasing. */
  readonly seq: number;
  /** process.hrtime.bigint() past which the item must not be started; undefined: no deadline. */
  readonly deadlineNs?: bigint | undefined;
}

function before(a: Prioritised, b: Prioritised): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
}

export class PriorityQueue<T extends Prioritised> {
  #items: T[] = [];

  get length(): number {
    return this.#items.length;
  }

  push(item: T): void {
    let low = 0;
    let high = this.#items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (before(this.#items[middle]!, item)) low = middle + 1;
      else high = middle;
    }
    this.#items.splice(low, 0, item);
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  remove(item: T): boolean {
    const index = this.#items.indexOf(item);
    if (index < 0) return false;
    this.#items.splice(index, 1);
    return true;
  }

  /** Removes and returns, in queue order, the items `accept` takes; it sees them in that order. */
  takeWhere(accept: (item: T) => boolean): T[] {
    const taken: T[] = [];
    this.#items = this.#items.filter((item) => {
      if (!accept(item)) return true;
      taken.push(item);
      return false;
    });
    return taken;
  }

  /**
   * Removes and returns the items whose deadline has passed. Called before work is handed out, so
   * that an expired item is never started even when its deadline timer has not fired yet (a busy
   * event loop runs I/O callbacks before late timers).
   */
  takeExpired(nowNs: bigint): T[] {
    if (!this.#items.some((item) => item.deadlineNs !== undefined && item.deadlineNs <= nowNs)) return [];
    return this.takeWhere((item) => item.deadlineNs !== undefined && item.deadlineNs <= nowNs);
  }

  drain(): T[] {
    const all = this.#items;
    this.#items = [];
    return all;
  }

  items(): readonly T[] {
    return this.#items;
  }
}
