import { describe, expect, it } from 'vitest';
import { MemoryLog } from '../../packages/freshcache/src/adapters/memory/memory-log.js';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { ConcurrencyLimit } from '../../packages/freshcache/src/engine/concurrency-limit.js';
import { LogFollower } from '../../packages/freshcache/src/engine/log-follower.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';

/** A shared L2 whose deletes wait until the test lets them go, counting how many wait at once. */
class HeldDeletes extends MemoryStore {
  inFlight = 0;
  mostInFlight = 0;
  private readonly held: (() => void)[] = [];
  private onHeld: (() => void) | undefined;
  failKey: string | undefined;

  override async delete(key: string): Promise<boolean> {
    this.inFlight++;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    await new Promise<void>((resolve) => {
      this.held.push(resolve);
      this.onHeld?.();
    });
    this.inFlight--;
    if (key === this.failKey) throw new Error(`Redis refused ${key}`);
    return super.delete(key);
  }

  /** Resolves once `count` deletes wait. */
  waiting(count: number): Promise<void> {
    return new Promise((resolve) => {
      this.onHeld = () => this.held.length >= count && resolve();
      this.onHeld();
    });
  }

  releaseAll(): number {
    const released = this.held.splice(0);
    for (const release of released) release();
    return released.length;
  }
}

async function region(l2: HeldDeletes) {
  const clock = new ManualClock();
  const log = new MemoryLog({ clock });
  const cache = new TieredCache({ name: 'a', clock, l1: new MemoryStore({ name: 'l1', clock }), l2, defaultTtlMs: 60_000 });
  const outcomes: { id: number; error?: unknown }[] = [];
  const follower = new LogFollower({
    cache,
    log,
    region: 'eu',
    nodeId: 'a',
    toL2: (work) => work().then(
      () => void outcomes.push({ id: 0 }),
      (error: unknown) => {
        outcomes.push({ id: 0, error });
        throw error;
      },
    ),
  });
  await follower.start();
  const keys = (n: number) => Array.from({ length: n }, (_, i) => `user:${i}`);
  const publish = (n: number) => log.publish({ kind: 'invalidate', v: 1, source: 'cdc', keys: keys(n), tags: [], prefixes: [], committedAt: clock.now() });
  return { follower, publish, outcomes, keys };
}

describe("the consumer group's deletes from the shared L2", () => {
  it('delete the keys of one event concurrently, never more than 256 at once, and all of them', async () => {
    const l2 = new HeldDeletes({ name: 'l2', clock: new ManualClock(), shared: true });
    const { follower, publish, outcomes } = await region(l2);
    await publish(1000);
    await l2.waiting(256);
    expect(l2.inFlight).toBe(256);
    let deleted = 0;
    while (deleted < 1000) {
      deleted += l2.releaseAll();
      if (deleted < 1000) await l2.waiting(Math.min(256, 1000 - deleted));
    }
    await expect.poll(() => outcomes.length).toBe(1);
    expect(outcomes[0]!.error).toBeUndefined();
    expect(l2.mostInFlight).toBe(256);
    await follower.stop();
  });

  it('apply an event only once every key is deleted: one failed delete fails it (left for the group to hand out again)', async () => {
    const l2 = new HeldDeletes({ name: 'l2', clock: new ManualClock(), shared: true });
    l2.failKey = 'user:3';
    const { follower, publish, outcomes } = await region(l2);
    await publish(10);
    await l2.waiting(10);
    l2.releaseAll();
    await expect.poll(() => outcomes.length).toBe(1);
    const error = outcomes[0]!.error as { code?: string; message: string; cause?: unknown };
    expect(error.code).toBe('store_unavailable');
    expect(error.message).toContain('1 of the 10 invalidated keys');
    expect(String(error.cause)).toContain('user:3');
    expect(l2.inFlight).toBe(0);
    await follower.stop();
  });
});

describe('ConcurrencyLimit', () => {
  it('runs at most its limit at once, the rest in order, and frees a slot when a call fails', async () => {
    const limit = new ConcurrencyLimit(2);
    const started: number[] = [];
    const finish: (() => void)[] = [];
    const calls = [0, 1, 2, 3].map((i) =>
      limit.run(() => {
        started.push(i);
        return new Promise<number>((resolve, reject) => finish.push(() => (i === 0 ? reject(new Error('boom')) : resolve(i))));
      }),
    );
    await expect.poll(() => started).toEqual([0, 1]);
    finish[0]!();
    await expect(calls[0]).rejects.toThrow('boom');
    await expect.poll(() => started).toEqual([0, 1, 2]);
    expect(limit.active).toBe(2);
    finish[1]!();
    finish[2]!();
    await expect.poll(() => started).toEqual([0, 1, 2, 3]);
    finish[3]!();
    expect(await Promise.all(calls.slice(1))).toEqual([1, 2, 3]);
    expect(limit.active).toBe(0);
  });

  it('serves a long queue (100,000 waiters) in order, and empties it', async () => {
    const limit = new ConcurrencyLimit(1);
    const order: number[] = [];
    await Promise.all(Array.from({ length: 100_000 }, (_, i) => limit.run(async () => void order.push(i))));
    expect(order).toEqual(Array.from({ length: 100_000 }, (_, i) => i));
    expect(limit.queued).toBe(0);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new ConcurrencyLimit(0)).toThrow(RangeError);
    expect(() => new ConcurrencyLimit(1.5)).toThrow(RangeError);
  });
});
