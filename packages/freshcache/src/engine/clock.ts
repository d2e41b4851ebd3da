/**
 * Time is a dependency. The engine, the regions and the relay read the time and schedule work
 * only through a Clock, so tests and the simulator can drive hours of behaviour without sleeping.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms`. System timers are unref'd: a pending timer never keeps a process alive. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Runs `fn` every `ms` until cancelled. */
  setInterval(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
  setInterval(fn, ms) {
    const handle = setInterval(fn, ms);
    handle.unref();
    return { cancel: () => clearInterval(handle) };
  },
};

interface ScheduledTask {
  at: number;
  order: number;
  everyMs: number | undefined;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to. `advance(ms)` fires every timer that falls due, in time
 * order, with `now()` set to each timer's due time while it runs.
 */
export class ManualClock implements Clock {
  private current: number;
  private order = 0;
  private tasks: ScheduledTask[] = [];

  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.schedule(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.schedule(fn, ms, Math.max(1, ms));
  }

  /** Number of timers still waiting. */
  get pending(): number {
    return this.tasks.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.current = next.at;
      if (next.everyMs !== undefined) {
        next.at += next.everyMs;
      } else {
        next.cancelled = true;
      }
      next.fn();
    }
    this.tasks = this.tasks.filter((t) => !t.cancelled);
    this.current = target;
  }

  /**
   * Like `advance`, but lets promise callbacks run after each timer, so async work a timer starts
   * (a revalidation, a relay poll) settles before the next timer fires.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await flushMicrotasks();
      const next = this.nextDue(target);
      if (!next) break;
      this.current = next.at;
      if (next.everyMs !== undefined) next.at += next.everyMs;
      else next.cancelled = true;
      next.fn();
    }
    this.tasks = this.tasks.filter((t) => !t.cancelled);
    this.current = target;
    await flushMicrotasks();
  }

  private schedule(fn: () => void, ms: number, everyMs: number | undefined): Timer {
    const task: ScheduledTask = { at: this.current + Math.max(0, ms), order: this.order++, everyMs, fn, cancelled: false };
    this.tasks.push(task);
    return { cancel: () => void (task.cancelled = true) };
  }

  private nextDue(limit: number): ScheduledTask | undefined {
    let best: ScheduledTask | undefined;
    for (const t of this.tasks) {
      if (t.cancelled || t.at > limit) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.order < best.order)) best = t;
    }
    return best;
  }
}

/** Lets queued promise callbacks (and the ones they queue) run. */
export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
