import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { FreshcacheError } from '../../packages/freshcache/src/engine/errors.js';
import type { LoadContext } from '../../packages/freshcache/src/engine/tiered-cache.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';

/** A gate the test opens when it wants: a slow origin read, under control. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** One node of a region over a shared L2 (with fill leases), on a fake clock. */
function node(loadTimeoutMs = 10_000) {
  const clock = new ManualClock();
  const l2 = new MemoryStore({ name: 'l2', clock, shared: true });
  const cache = new TieredCache({ name: 'a', clock, l1: new MemoryStore({ name: 'l1', clock }), l2, loadTimeoutMs });
  return { clock, l2, cache };
}

/**
 * An origin whose reads are held until the test releases them, one by one: `started(n)` resolves
 * when read n (from 0) has begun, having read what the origin held then.
 */
function heldOrigin(initial: string) {
  const state = { value: initial };
  const begun: (() => void)[] = [];
  const starts = Array.from({ length: 4 }, () => new Promise<void>((resolve) => begun.push(resolve)));
  const gates = Array.from({ length: 4 }, () => gate());
  let reads = 0;
  const loader = async (ctx: LoadContext) => {
    const n = reads++;
    const row = state.value;
    ctx.tags = ['t'];
    begun[n]!();
    await gates[n]!.opened;
    return row;
  };
  return { state, loader, started: (n: number) => starts[n]!, release: (n: number) => gates[n]!.open(), reads: () => reads };
}

describe('the filler', () => {
  it('a leased load that an invalidation of its key overtakes reads again under a new lease, and fills both tiers', async () => {
    // The invalidation deletes the key from the shared L2, which revokes the lease the first read held.
    const { l2, cache } = node();
    const origin = heldOrigin('old');
    const read = cache.getOrLoad('k', origin.loader);
    await origin.started(0);
    origin.state.value = 'new';
    await cache.invalidate({ keys: ['k'] }, { position: 1 });
    await origin.started(1);
    origin.release(1);
    expect(await read).toBe('new');
    expect(origin.reads()).toBe(2);
    expect((await l2.get('k'))?.value).toBe('new');
    expect(cache.l1.peek('k')?.value).toBe('new');
    expect(cache.stats.staleSetsRefused).toBe(1);
  });

  it('a leased load read again after an invalidation holds a lease for a whole load timeout', async () => {
    // The first read used most of the lease's time before a tag purge overtook it.
    const { clock, l2, cache } = node(1000);
    const origin = heldOrigin('old');
    const read = cache.getOrLoad('k', origin.loader, { tags: ['t'] });
    await origin.started(0);
    clock.advance(900);
    origin.state.value = 'new';
    await cache.invalidate({ tags: ['t'] }, { position: 1 });
    await origin.started(1);
    clock.advance(200);
    origin.release(1);
    expect(await read).toBe('new');
    expect((await l2.get('k'))?.value).toBe('new');
    expect(cache.stats.staleSetsRefused).toBe(1);
  });

  it('a loader that looks at its signal only after its read was abandoned finds it aborted, with the reason', async () => {
    // The signal is made when the loader first asks for it: one asked for late must still tell.
    const clock = new ManualClock();
    const cache = createCache({ clock, loadTimeoutMs: 1000 });
    const slow = gate();
    const seen: { aborted: boolean; reason: unknown }[] = [];
    let started!: () => void;
    const reading = new Promise<void>((resolve) => (started = resolve));
    const read = cache.getOrLoad('k', async (ctx) => {
      started();
      await slow.opened;
      seen.push({ aborted: ctx.signal.aborted, reason: ctx.signal.reason });
      return 'late';
    });
    await reading;
    clock.advance(1000);
    await expect(read).rejects.toMatchObject({ code: 'origin_unavailable' });
    slow.open();
    await slow.opened;
    await Promise.resolve();
    expect(seen).toEqual([{ aborted: true, reason: expect.objectContaining({ code: 'origin_unavailable' }) }]);
  });

  it('loadMany: a batch that fails while one-by-one loads still run leaves no unhandled rejection', async () => {
    const cache = createCache();
    const slow = gate();
    cache.define('user:{id}', {
      load: () => 'unused',
      loadMany: () => Promise.reject(new FreshcacheError('origin_unavailable', 'the database is down')),
    });
    cache.define('org:{id}', {
      load: async () => {
        await slow.opened;
        return 'org';
      },
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const many = cache.loadMany(['user:1', 'org:1']);
      // Two turns of the event loop: Node reports a rejection nobody handled after the first.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      slow.open();
      expect((await many).map((result) => result.status)).toEqual(['rejected', 'fulfilled']);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
