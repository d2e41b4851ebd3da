import { describe, expect, it } from 'vitest';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { FreshcacheError } from '../../packages/freshcache/src/engine/errors.js';
import type { ExplorerPage, LoadContext } from '../../packages/freshcache/src/engine/tiered-cache.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';

/** `store` behind a proxy that counts every method called on it, by name. */
function counted<T extends object>(store: T): { store: T; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(property), (calls.get(String(property)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(receiver, args);
      };
    },
  });
  return { store: proxy, calls };
}

/** A loader whose result the test releases when it wants: a slow origin read, under control. */
function deferredLoader<T>(value: T, meta: { version?: number; tags?: string[] } = {}) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  const loader = async (ctx: { version?: number; tags?: string[] }) => {
    calls++;
    ctx.version = meta.version;
    ctx.tags = meta.tags;
    await gate;
    return value;
  };
  return { loader, release, calls: () => calls };
}

describe('TieredCache read-through', () => {
  it('misses once, fills L2 then L1, and hits after', async () => {
    const cache = createCache({ l2: 'memory' });
    let loads = 0;
    const loader = async () => ({ n: ++loads });
    const first = await cache.lookupOrLoad('k', loader);
    expect(first).toMatchObject({ state: 'MISS', tier: 'origin', value: { n: 1 } });
    expect(await cache.l2!.get('k')).toBeDefined();
    expect(cache.l1.peek('k')).toBeDefined();
    const second = await cache.lookupOrLoad('k', loader);
    expect(second).toMatchObject({ state: 'HIT', tier: 'l1', value: { n: 1 } });
    expect(loads).toBe(1);
  });

  it('promotes an L2 hit into L1', async () => {
    const cache = createCache({ l2: 'memory' });
    await cache.set('k', 'v', { version: 3 });
    cache.l1.remove('k');
    expect(await cache.lookup('k')).toMatchObject({ state: 'HIT', tier: 'l2', version: 3 });
    expect(await cache.lookup('k')).toMatchObject({ state: 'HIT', tier: 'l1', version: 3 });
  });

  it('1000 concurrent misses for one key cause exactly one load', async () => {
    const cache = createCache({ l2: 'memory' });
    const slow = deferredLoader('value');
    const reads = Array.from({ length: 1000 }, () => cache.getOrLoad('hot', slow.loader));
    slow.release();
    const values = await Promise.all(reads);
    expect(slow.calls()).toBe(1);
    expect(new Set(values)).toEqual(new Set(['value']));
    expect(cache.stats.originFetches).toBe(1);
  });

  it('shares a failing load with every waiter and caches nothing', async () => {
    const cache = createCache();
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('origin down');
    };
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => cache.getOrLoad('k', failing)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(calls).toBe(1);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('times out a load that never answers', async () => {
    const clock = new ManualClock();
    const cache = createCache({ clock, loadTimeoutMs: 1000 });
    const pending = cache.getOrLoad('k', () => new Promise(() => {}));
    await clock.advanceAsync(999);
    let settled = false;
    void pending.catch(() => (settled = true));
    await clock.advanceAsync(0);
    expect(settled).toBe(false);
    await clock.advanceAsync(1);
    await expect(pending).rejects.toMatchObject({ code: 'origin_unavailable' });
  });

  it('expires entries at their TTL', async () => {
    const clock = new ManualClock();
    const cache = createCache({ clock, l2: 'memory' });
    await cache.set('k', 1, { ttlMs: 1000 });
    clock.advance(999);
    expect(await cache.get('k')).toBe(1);
    clock.advance(1);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('serves STALE after the soft expiry and revalidates once in the background', async () => {
    const clock = new ManualClock();
    const cache = createCache({ clock });
    let loads = 0;
    const loader = async () => ++loads;
    await cache.getOrLoad('k', loader, { ttlMs: 10_000, staleAfterMs: 1000 });
    clock.advance(1000);
    const [a, b] = await Promise.all([cache.lookupOrLoad('k', loader), cache.lookupOrLoad('k', loader)]);
    expect([a.state, b.state]).toEqual(['STALE', 'STALE']);
    expect(a.value).toBe(1);
    await clock.advanceAsync(0);
    expect(loads).toBe(2);
    expect(await cache.lookupOrLoad('k', loader)).toMatchObject({ state: 'HIT', value: 2 });
  });

  it('rejects bad keys, TTLs and oversized values with catalogue errors', async () => {
    const cache = createCache({ maxValueBytes: 10 });
    await expect(cache.set('', 1)).rejects.toMatchObject({ code: 'invalid_key' });
    await expect(cache.set('€'.repeat(171), 1)).rejects.toMatchObject({ code: 'invalid_key' });
    await expect(cache.set('k', 1, { ttlMs: -1 })).rejects.toMatchObject({ code: 'invalid_ttl' });
    await expect(cache.set('k', 'x'.repeat(20))).rejects.toBeInstanceOf(FreshcacheError);
    await expect(cache.set('k', 'x'.repeat(20))).rejects.toMatchObject({ code: 'value_too_large' });
    expect(() => createCache({ strategy: 'sometimes' as never })).toThrow(/strategy/);
  });
});

describe('invalidation', () => {
  it('eager: a key invalidation removes the entry from both tiers at once', async () => {
    const cache = createCache({ l2: 'memory' });
    await cache.set('k', 1);
    await cache.invalidate({ keys: ['k'] });
    expect(cache.l1.peek('k')).toBeUndefined();
    expect(await cache.l2!.get('k')).toBeUndefined();
    expect(await cache.get('k')).toBeUndefined();
  });

  it('a tag purge invalidates every tagged entry in both tiers and nothing else', async () => {
    const cache = createCache({ l2: 'memory' });
    await cache.set('a', 1, { tags: ['news'] });
    await cache.set('b', 2, { tags: ['news', 'sport'] });
    await cache.set('c', 3, { tags: ['sport'] });
    cache.l1.remove('b'); // b now only in L2: the purge must reach it there too
    await cache.invalidate({ tags: ['news'] });
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('c')).toBe(3);
  });

  it('a prefix purge invalidates keys with that prefix only', async () => {
    const cache = createCache();
    for (const key of ['user:1', 'user:1:profile', 'user:2', 'users', 'team:1']) await cache.set(key, key);
    await cache.invalidate({ prefixes: ['user:1'] });
    expect(await cache.get('user:1')).toBeUndefined();
    expect(await cache.get('user:1:profile')).toBeUndefined();
    expect(await cache.get('user:2')).toBe('user:2');
    expect(await cache.get('users')).toBe('users');
    expect(await cache.get('team:1')).toBe('team:1');
  });

  it('a purge touches no entry: its cost does not grow with the matching keys', async () => {
    const l1 = counted(new MemoryStore({ name: 'l1', maxEntries: 20_000 }));
    const l2 = counted(new MemoryStore({ name: 'l2', maxEntries: 20_000 }));
    const cache = new TieredCache({ l1: l1.store, l2: l2.store });
    for (let i = 0; i < 10_000; i++) await cache.set(`k${i}`, i, { tags: ['all'] });
    l1.calls.clear();
    l2.calls.clear();
    await cache.invalidate({ tags: ['all'] });
    await cache.invalidate({ prefixes: ['k'] });
    // No store method at all: no walk, no read, no delete, whatever the number of matching entries.
    expect(Object.fromEntries(l1.calls)).toEqual({});
    expect(Object.fromEntries(l2.calls)).toEqual({});
    expect(cache.l1.entries).toBe(10_000); // reclaimed lazily, on read or eviction
    expect(await cache.get('k5')).toBeUndefined();
    expect(cache.l1.entries).toBe(9_999);
    expect(l1.calls.size).toBeGreaterThan(0); // the counting sees the read that reclaimed it
  });

  it('lazy: serves the old value STALE, revalidates once, and never past maxStaleMs', async () => {
    const clock = new ManualClock();
    const cache = createCache({ clock, strategy: 'lazy', maxStaleMs: 5000 });
    let origin = 'v1';
    let loads = 0;
    const loader = async () => {
      loads++;
      return origin;
    };
    await cache.getOrLoad('k', loader);
    origin = 'v2';
    await cache.invalidate({ keys: ['k'] });
    const stale = await cache.lookupOrLoad('k', loader);
    expect(stale).toMatchObject({ state: 'STALE', value: 'v1' });
    await clock.advanceAsync(0);
    expect(loads).toBe(2);
    expect(await cache.lookupOrLoad('k', loader)).toMatchObject({ state: 'HIT', value: 'v2' });

    // With the origin failing, the stale value stops being served once maxStaleMs has passed.
    origin = 'v3';
    await cache.invalidate({ keys: ['k'] });
    const failing = async () => {
      throw new Error('origin down');
    };
    expect(await cache.lookupOrLoad('k', failing)).toMatchObject({ state: 'STALE', value: 'v2' });
    await clock.advanceAsync(0);
    clock.advance(5001);
    await expect(cache.lookupOrLoad('k', failing)).rejects.toThrow('origin down');
  });

  it('refuses a stale set: a slow load that began before an invalidation does not fill the cache', async () => {
    const cache = createCache({ l2: 'memory' });
    const slow = deferredLoader('old', { version: 1 });
    const read = cache.lookupOrLoad('k', slow.loader);
    await Promise.resolve();
    // The origin changes and its invalidation is applied while the old read is in flight.
    await cache.invalidate({ keys: ['k'] }, { keyVersions: { k: 2 } });
    slow.release();
    const result = await read;
    expect(result).toMatchObject({ state: 'MISS', value: 'old' }); // the waiting caller still gets an answer
    expect(cache.stats.staleSetsRefused).toBe(1);
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.l2!.get('k')).toBeUndefined();
    expect(await cache.getOrLoad('k', async () => 'new')).toBe('new');
  });

  it('refuses a stale set through a tag the load only learns about when it returns', async () => {
    const cache = createCache();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const read = cache.getOrLoad('article:1', async (ctx) => {
      await gate;
      ctx.tags = ['news'];
      return 'old';
    });
    await Promise.resolve();
    await cache.invalidate({ tags: ['news'] });
    release();
    await read;
    expect(cache.stats.staleSetsRefused).toBe(1);
    expect(await cache.get('article:1')).toBeUndefined();
  });

  it('aborts a load that an invalidation overtakes (its signal), and reads the key again', async () => {
    const cache = createCache();
    let origin = 'old';
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const signals: AbortSignal[] = [];
    const loader = async (ctx: LoadContext) => {
      signals.push(ctx.signal);
      const value = origin; // what the source holds when the read begins
      await gate;
      return value;
    };
    const read = cache.getOrLoad('article:1', loader, { tags: ['news'] });
    await Promise.resolve();
    origin = 'new';
    await cache.invalidate({ tags: ['news'] });
    release();
    expect(await read).toBe('new');
    expect(signals.map((signal) => signal.aborted)).toEqual([true, false]);
    expect(signals[0]!.reason).toMatchObject({ name: 'AbortError' });
    expect(cache.stats.staleSetsRefused).toBe(1);
    expect(await cache.get('article:1')).toBe('new');
  });

  it('aborts a load that runs past the load timeout, and answers origin_unavailable', async () => {
    const clock = new ManualClock();
    const cache = createCache({ clock, loadTimeoutMs: 1000 });
    let signal: AbortSignal | undefined;
    let started!: () => void;
    const loading = new Promise<void>((resolve) => (started = resolve));
    const read = cache.getOrLoad('k', (ctx) => {
      signal = ctx.signal;
      started();
      return new Promise(() => {});
    });
    await loading;
    clock.advance(1000);
    await expect(read).rejects.toMatchObject({ code: 'origin_unavailable' });
    expect(signal!.aborted).toBe(true);
  });

  it('dry run lists matching keys in both tiers and purges nothing', async () => {
    const cache = createCache({ l2: 'memory' });
    await cache.set('a:1', 1, { tags: ['x'] });
    await cache.set('a:2', 2);
    await cache.set('b:1', 3, { tags: ['x'] });
    cache.l1.remove('b:1');
    expect(await cache.matching({ prefixes: ['a:'] })).toEqual({ keys: ['a:1', 'a:2'], total: 2, partial: false });
    expect(await cache.matching({ tags: ['x'] })).toEqual({ keys: ['a:1', 'b:1'], total: 2, partial: false });
    expect(await cache.matching({ keys: ['a:2', 'b:1', 'absent'] })).toEqual({ keys: ['a:2', 'b:1'], total: 2, partial: false });
    expect(await cache.get('a:1')).toBe(1);
  });

  it('dry run: a key only L1 holds counts too, and each key is counted once', async () => {
    const cache = createCache({ l2: 'memory' });
    for (let i = 0; i < 50; i++) await cache.set(`a:${i}`, i, { tags: ['x'] });
    await cache.l2!.delete('a:7'); // only L1 holds it now
    cache.l1.remove('a:8'); // only L2 holds it now
    const result = await cache.matching({ tags: ['x'], prefixes: ['a:'], keys: ['a:9'] });
    expect(result).toMatchObject({ total: 50, partial: false });
    expect(result.keys).toContain('a:7');
    expect(result.keys).toContain('a:8');
  });

  it('dry run: past its budget of keys examined the count is partial, a lower bound', async () => {
    const cache = createCache({ l2: 'memory', l1: { maxEntries: 10 } });
    for (let i = 0; i < 500; i++) await cache.set(`a:${i}`, i, { tags: ['x'] });
    const partial = await cache.matching({ tags: ['x'] }, 1000, 100);
    expect(partial.partial).toBe(true);
    expect(partial.total).toBeGreaterThanOrEqual(100);
    expect(partial.total).toBeLessThan(500);
    expect(await cache.matching({ tags: ['x'] }, 1000, 500)).toMatchObject({ total: 500, partial: false });
  });

  it('forgets marks once no entry can be old enough to need them', async () => {
    const clock = new ManualClock();
    const cache = createCache({ clock, maxTtlMs: 10_000, defaultTtlMs: 10_000, loadTimeoutMs: 1000 });
    await cache.invalidate({ tags: ['t'], prefixes: ['p:'] });
    expect(cache.markCount).toBe(2);
    clock.advance(120_000);
    await cache.invalidate({ keys: ['other'] });
    expect(cache.markCount).toBe(1);
  });

  it('lazy: a STALE answer from L2 also starts exactly one revalidation', async () => {
    const cache = createCache({ l2: 'memory', strategy: 'lazy', clock: new ManualClock() });
    let loads = 0;
    const loader = async () => ++loads;
    await cache.getOrLoad('k', loader);
    await cache.invalidate({ keys: ['k'] });
    cache.l1.remove('k'); // only L2 holds the stale entry now
    const answers = await Promise.all(Array.from({ length: 5 }, () => cache.lookupOrLoad('k', loader)));
    expect(answers.map((a) => `${a.state}/${a.tier}/${a.value}`)).toEqual(Array(5).fill('STALE/l2/1'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(loads).toBe(2);
    expect(await cache.lookupOrLoad('k', loader)).toMatchObject({ state: 'HIT', value: 2 });
  });
});

describe('key explorer', () => {
  /** Every page of a search; fails on a key listed twice (a memory L2 walks in key order, exactly once). */
  async function explore(cache: TieredCache, options: { prefix?: string; tag?: string; limit: number; budget?: number }) {
    const pages: ExplorerPage[] = [];
    let cursor: string | undefined;
    do {
      const page = await cache.scan({ ...options, cursor });
      pages.push(page);
      cursor = page.cursor;
    } while (cursor !== undefined);
    const keys = pages.flatMap((p) => p.items.map((item) => item.key));
    expect(new Set(keys).size, 'a key listed twice').toBe(keys.length);
    return { pages, keys };
  }

  it('pages through both tiers by prefix and tag, each matching key exactly once', async () => {
    const cache = createCache({ l2: 'memory' });
    const expected: string[] = [];
    for (let i = 0; i < 30; i++) {
      const key = `item:${String(i).padStart(2, '0')}`;
      await cache.set(key, i, { tags: i % 3 === 0 ? ['third'] : [] });
      if (i % 2 === 0) cache.l1.remove(key); // half the keys only in L2
      if (i % 3 === 0) expected.push(key);
    }
    await cache.l2!.delete('item:03'); // and one only in L1
    await cache.set('other', 0, { tags: ['third'] });
    const { pages, keys } = await explore(cache, { prefix: 'item:', tag: 'third', limit: 4 });
    expect(keys.sort()).toEqual(expected);
    for (const page of pages) expect(page.items.length).toBeLessThanOrEqual(4);
    expect(pages.at(-1)!.stoppedBy).toBe('end');
  });

  it('with a shared L2, lists the shared tier, each key through this node\'s L1 entry when it holds one', async () => {
    const clock = new ManualClock();
    const l2 = new MemoryStore({ clock, shared: true });
    const cache = new TieredCache({ clock, l1: new MemoryStore({ clock }), l2 });
    for (let i = 0; i < 20; i++) await cache.set(`k:${i}`, i);
    for (let i = 0; i < 10; i++) cache.l1.remove(`k:${i}`);
    const { keys, pages } = await explore(cache, { limit: 7 });
    expect(keys.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `k:${i}`).sort());
    const tiers = pages.flatMap((p) => p.items.map((item) => `${item.key}/${item.tier}`));
    expect(tiers).toContain('k:3/l2');
    expect(tiers).toContain('k:13/l1');
  });

  it('stops at its budget of keys examined and says so, with a cursor to go on', async () => {
    const cache = createCache({ l2: 'memory', l1: { maxEntries: 10 } });
    for (let i = 0; i < 300; i++) await cache.set(`k:${String(i).padStart(3, '0')}`, i, { tags: i === 250 ? ['rare'] : [] });
    const first = await cache.scan({ tag: 'rare', limit: 10, budget: 100 });
    expect(first).toMatchObject({ items: [], stoppedBy: 'budget', examined: 100 });
    expect(first.cursor).toEqual(expect.any(String));
    const { pages, keys } = await explore(cache, { tag: 'rare', limit: 10, budget: 100 });
    expect(keys).toEqual(['k:250']);
    expect(pages.slice(0, -1).every((p) => p.stoppedBy === 'budget')).toBe(true);
  });

  it('rejects a cursor it did not hand out', async () => {
    const cache = createCache({ l2: 'memory' });
    for (const cursor of ['nonsense', 'l3:', 'l2:%%%']) {
      await expect(cache.scan({ cursor, limit: 10 }), cursor).rejects.toMatchObject({ code: 'bad_request' });
    }
  });
});

describe('review regressions', () => {
  it('lazy: the stale window starts at the first invalidation and later ones do not extend it', async () => {
    const clock = new ManualClock();
    const cache = createCache({ clock, strategy: 'lazy', maxStaleMs: 30_000 });
    await cache.set('k', 'old', { tags: ['t'] });
    await cache.invalidate({ tags: ['t'] });
    for (let i = 0; i < 5; i++) {
      clock.advance(20_000);
      await cache.invalidate({ keys: ['k'] });
    }
    // 100 s after the first invalidation: far past maxStaleMs, so never served.
    expect(await cache.lookup('k')).toBeUndefined();
  });

  it('a reader who arrives after an invalidation does not get a value read before it', async () => {
    // The invalidation carries a version, so the read is not aborted (it may meet the version): its fill is refused.
    const cache = createCache();
    const slow = deferredLoader('old', { version: 1 });
    const early = cache.lookupOrLoad('k', slow.loader);
    await Promise.resolve();
    await cache.invalidate({ keys: ['k'] }, { keyVersions: { k: 2 } });
    const late = cache.lookupOrLoad('k', async () => 'new');
    slow.release();
    expect((await early).value).toBe('old'); // asked before the change: fine
    expect((await late).value).toBe('new');
  });

  it('a reader who arrives after an invalidation reads again even when a later invalidation overtook the old read too', async () => {
    const cache = createCache();
    const slow = deferredLoader('old', { version: 1 });
    const early = cache.lookupOrLoad('k', slow.loader);
    await Promise.resolve();
    await cache.invalidate({ keys: ['k'] }, { keyVersions: { k: 2 } });
    const late = cache.lookupOrLoad('k', async () => 'new');
    await cache.invalidate({ keys: ['k'] }, { keyVersions: { k: 3 } });
    slow.release();
    expect((await early).value).toBe('old');
    expect((await late).value).toBe('new');
  });

  it('a set() during an in-flight load is not overwritten by the older loaded value', async () => {
    const cache = createCache({ l2: 'memory' });
    const slow = deferredLoader('loaded-before-write');
    const read = cache.getOrLoad('k', slow.loader);
    await Promise.resolve();
    await cache.set('k', 'written');
    slow.release();
    await read;
    expect(await cache.get('k')).toBe('written');
  });

  it('a delete() during an in-flight load is not undone by the older loaded value', async () => {
    const cache = createCache({ l2: 'memory' });
    await cache.set('k', 'cached');
    cache.l1.remove('k');
    await cache.l2!.delete('k');
    const slow = deferredLoader('loaded-before-delete');
    const read = cache.getOrLoad('k', slow.loader);
    await Promise.resolve();
    await cache.delete('k');
    slow.release();
    await read;
    expect(await cache.get('k')).toBeUndefined();
  });

  it('an invalid key is a rejected promise, never a synchronous throw', async () => {
    const cache = createCache();
    const pending = cache.getOrLoad('', async () => 1);
    await expect(pending).rejects.toMatchObject({ code: 'invalid_key' });
    await expect(cache.lookupOrLoad('', async () => 1)).rejects.toMatchObject({ code: 'invalid_key' });
    // get and lookup too, with and without an L2 behind L1 (get goes straight to L2 on an L1 miss).
    for (const withL2 of [createCache(), createCache({ l2: 'memory' })]) {
      const tooLong = 'k'.repeat(513);
      for (const key of ['', tooLong]) {
        let read: Promise<unknown> | undefined;
        expect(() => (read = withL2.get(key))).not.toThrow();
        await expect(read).rejects.toMatchObject({ code: 'invalid_key' });
        await expect(withL2.lookup(key)).rejects.toMatchObject({ code: 'invalid_key' });
      }
    }
  });
});
