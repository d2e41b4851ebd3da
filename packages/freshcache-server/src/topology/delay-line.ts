import type { Clock, Timer } from 'freshcache';

interface Item {
  dueAt: number;
  run: () => void;
  cancel: () => void;
}

/** What a pushed item's promise rejects with when the line is cancelled before the item ran. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled before it ran');
    this.name = 'CancelledError';
  }
}

/**
 * A link with latency that keeps order: each item runs `delayMs` after it was pushed, but never
 * before the item pushed ahead of it. Jitter then stretches the gaps between invalidations without
 * reordering them, as a network link does, so a region applies the log in log order (its cache
 * relies on positions arriving in order). One timer, for the head of the line: timers due at the
 * same instant are not promised to fire in the order they were made.
 */
export class DelayLine {
  private readonly items: Item[] = [];
  private timer: Timer | undefined;
  private lastDueAt = -Infinity;

  constructor(private readonly clock: Clock) {}

  /** Starts `work` after `delayMs`, after everything pushed before it started; resolves with its result. */
  push<T>(delayMs: number, work: () => Promise<T>): Promise<T> {
    const dueAt = Math.max(this.clock.now() + delayMs, this.lastDueAt);
    this.lastDueAt = dueAt;
    return new Promise<T>((resolve, reject) => {
      this.items.push({ dueAt, run: () => void work().then(resolve, reject), cancel: () => reject(new CancelledError()) });
      if (this.items.length === 1) this.arm();
    });
  }

  /** Drops everything not yet started; their promises reject with CancelledError (the work did not happen). */
  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    for (const item of this.items.splice(0)) item.cancel();
  }

  private arm(): void {
    const head = this.items[0];
    if (!head) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      const now = this.clock.now();
      while (this.items.length > 0 && this.items[0]!.dueAt <= now) this.items.shift()!.run();
      this.arm();
    }, Math.max(0, head.dueAt - this.clock.now()));
  }
}
