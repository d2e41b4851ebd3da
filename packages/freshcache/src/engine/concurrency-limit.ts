/**
 * Runs at most `limit` calls at once; the rest wait their turn in order. A dozen lines rather than
 * a dependency: the library keeps its install small, and this is all it needs.
 */
export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

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
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Calls running now (for tests and metrics). */
  get active(): number {
    return this.running;
  }
}
