/**
 * Runs at most `limit` calls at once; the rest wait their turn in order. A few lines rather than a
 * dependency: the library keeps its install small, and this is all it needs.
 */
export class ConcurrencyLimit {
  private running = 0;
  /** Waiters from `head` on; a queue, not Array.shift(), which is O(n) on the long queues an event of thousands of keys makes. */
  private waiting: (() => void)[] = [];
  private head = 0;

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await call();
    } finally {
      // The slot passes straight to the next waiter, so `running` counts it still taken.
      const next = this.next();
      if (next) next();
      else this.running--;
    }
  }

  /** Calls running now (for tests and metrics). */
  get active(): number {
    return this.running;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.waiting.length - this.head;
  }

  private next(): (() => void) | undefined {
    if (this.head === this.waiting.length) return undefined;
    const next = this.waiting[this.head++];
    // Drop the consumed front now and then, so the array does not grow for ever.
    if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    return next;
  }
}
