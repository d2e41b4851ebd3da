import { describe, expect, it } from 'vitest';
import { MemoryLog } from '../../packages/freshcache/src/adapters/memory/memory-log.js';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { LogFollower } from '../../packages/freshcache/src/engine/log-follower.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';
import type { LoadContext } from '../../packages/freshcache/src/engine/tiered-cache.js';
import type { InvalidationEvent } from '../../packages/freshcache/src/seams/invalidation-log.js';

/**
 * The version rule: an event naming a key of an insert or update of a versioned table, with the
 * version that change wrote, leaves an entry (or a fill) that already holds that version or newer
 * and drops an older one. Everything else keeps the generation check.
 */

/** A row whose version the test bumps, and a loader that reads it, counting its calls. */
function origin(version: number, tags: string[] = []) {
  const row = { version, loads: 0 };
  const loader = (ctx: LoadContext) => {
    row.loads++;
    ctx.version = row.version;
    ctx.tags = tags;
    return Promise.resolve({ body: `v${row.version}` });
  };
  return { row, loader };
}

/** A load that reads `version` now and answers when released. */
function held(version: number) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const loader = async (ctx: LoadContext) => {
    ctx.version = version;
    await gate;
    return { body: `v${version}` };
  };
  return { loader, release };
}

describe('the version rule', () => {
  it('500 concurrent first reads after a region filled the new version before the event cause one load per region', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const { row, loader } = origin(1);
    const regions: TieredCache[] = [];
    const applied: Promise<void>[] = [];
    for (const region of ['eu', 'us']) {
      const cache = createCache({ l2: 'memory', clock });
      let seen!: () => void;
      applied.push(new Promise<void>((resolve) => (seen = resolve)));
      const follower = new LogFollower({ cache, log, region, onApplied: (event: InvalidationEvent) => event.keys.includes('article:1') && seen() });
      await follower.start();
      regions.push(cache);
    }
    // The UPDATE commits version 2; each region reads it before the event lands.
    row.version = 2;
    for (const cache of regions) expect(await cache.getOrLoad('article:1', loader)).toEqual({ body: 'v2' });
    expect(row.loads).toBe(2);
    await log.publish({ kind: 'invalidate', v: 1, source: 'cdc', keys: ['article:1'], tags: [], prefixes: [], version: 2, keyVersions: { 'article:1': 2 }, committedAt: clock.now() });
    await Promise.all(applied);
    const reads = regions.flatMap((cache) => Array.from({ length: 500 }, () => cache.getOrLoad('article:1', loader)));
    for (const value of await Promise.all(reads)) expect(value).toEqual({ body: 'v2' });
    expect(row.loads).toBe(2);
  });

  it('in a region sharing an L2, the consumer group leaves an L2 entry holding the version and deletes an older one', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const l2 = new MemoryStore({ name: 'l2', clock, shared: true });
    const { row, loader } = origin(1);
    // Resolves once both nodes applied `count` events to L1 and the region's group applied them to L2.
    let done = 0;
    const waiters: { count: number; resolve: () => void }[] = [];
    const tick = () => {
      done++;
      for (const w of waiters) if (done >= w.count) w.resolve();
    };
    const applied = (count: number) => new Promise<void>((resolve) => waiters.push({ count, resolve }));
    const nodes: TieredCache[] = [];
    for (const name of ['a', 'b']) {
      const cache = new TieredCache({ name, clock, l1: new MemoryStore({ name: 'l1', clock }), l2, defaultTtlMs: 60_000 });
      const follower = new LogFollower({ cache, log, region: 'eu', nodeId: name, onApplied: tick, toL2: (work) => work().then(tick) });
      await follower.start();
      nodes.push(cache);
    }
    const [a, b] = nodes as [TieredCache, TieredCache];
    // Some earlier event, so that both nodes can date entries of the shared L2 by position.
    await log.publish({ kind: 'invalidate', v: 1, source: 'cdc', keys: ['other'], tags: [], prefixes: [], committedAt: clock.now() });
    await applied(3);
    row.version = 2;
    await a.getOrLoad('k', loader); // node a fills the new version into the region's L2 before the event
    await log.publish({ kind: 'invalidate', v: 1, source: 'cdc', keys: ['k'], tags: [], prefixes: [], keyVersions: { k: 2 }, committedAt: clock.now() });
    await applied(6);
    expect((await l2.get('k'))?.version).toBe(2);
    expect(await b.getOrLoad('k', loader)).toEqual({ body: 'v2' });
    expect(row.loads).toBe(1);
    row.version = 3;
    await log.publish({ kind: 'invalidate', v: 1, source: 'cdc', keys: ['k'], tags: [], prefixes: [], keyVersions: { k: 3 }, committedAt: clock.now() });
    await applied(9);
    expect(await l2.get('k')).toBeUndefined();
    expect(await b.getOrLoad('k', loader)).toEqual({ body: 'v3' });
    expect(row.loads).toBe(2);
  });

  it('an event of a newer version drops an entry holding an older one', async () => {
    const cache = createCache({ l2: 'memory', clock: new ManualClock() });
    const { row, loader } = origin(2);
    await cache.getOrLoad('k', loader);
    row.version = 3;
    await cache.invalidate({ keys: ['k'] }, { keyVersions: { k: 3 } });
    // Gone from both tiers at once (a read would reclaim a refused entry, so look first).
    expect(cache.l1.peek('k')).toBeUndefined();
    expect(await cache.l2!.get('k')).toBeUndefined();
    expect(await cache.lookup('k')).toBeUndefined();
    expect(await cache.getOrLoad('k', loader)).toEqual({ body: 'v3' });
  });

  it('an event of the version an entry holds leaves it in L1 and L2', async () => {
    const cache = createCache({ l2: 'memory', clock: new ManualClock() });
    const { loader } = origin(2);
    await cache.getOrLoad('k', loader);
    await cache.invalidate({ keys: ['k'] }, { keyVersions: { k: 2 } });
    expect(await cache.lookup('k')).toMatchObject({ state: 'HIT', tier: 'l1', version: 2 });
    expect((await cache.l2!.get('k'))?.version).toBe(2);
  });

  it('a delete, which carries no key version, drops an entry holding any version', async () => {
    const cache = createCache({ l2: 'memory', clock: new ManualClock() });
    await cache.getOrLoad('k', origin(7).loader);
    await cache.invalidate({ keys: ['k'] });
    expect(await cache.lookup('k')).toBeUndefined();
    // And by its mark alone (lazy, no stale window: the entry is still in memory).
    const clock = new ManualClock();
    const lazy = createCache({ l2: 'memory', strategy: 'lazy', maxStaleMs: 0, clock });
    await lazy.getOrLoad('k', origin(7).loader);
    await lazy.invalidate({ keys: ['k'] });
    clock.advance(1);
    expect(await lazy.lookup('k')).toBeUndefined();
  });

  it('a tag target drops an entry even when its key version is met', async () => {
    const cache = createCache({ l2: 'memory', clock: new ManualClock() });
    await cache.getOrLoad('k', origin(2, ['news']).loader);
    await cache.invalidate({ keys: ['k'], tags: ['news'] }, { keyVersions: { k: 2 } });
    expect(await cache.lookup('k')).toBeUndefined();
  });

  it('an entry without a version is dropped by a versioned event', async () => {
    const cache = createCache({ l2: 'memory', clock: new ManualClock() });
    await cache.getOrLoad('k', () => Promise.resolve('no version'));
    await cache.invalidate({ keys: ['k'] }, { keyVersions: { k: 1 } });
    expect(cache.l1.peek('k')).toBeUndefined();
    expect(await cache.l2!.get('k')).toBeUndefined();
    expect(await cache.lookup('k')).toBeUndefined();
  });

  it('a delete before the versioned event still refuses an entry read before it, whatever version it holds', async () => {
    // Lazy with no stale window: entries outlive their marks in memory, so only the marks decide.
    const clock = new ManualClock();
    const cache = createCache({ l2: 'memory', strategy: 'lazy', maxStaleMs: 0, clock });
    await cache.getOrLoad('k', origin(1).loader);
    await cache.invalidate({ keys: ['k'] }); // DELETE
    await cache.invalidate({ keys: ['k'] }, { keyVersions: { k: 1 } }); // INSERT again, version 1
    clock.advance(1);
    expect(await cache.lookup('k')).toBeUndefined();
  });

  it('a fill in flight that loaded an older version than the event is refused', async () => {
    const cache = createCache({ l2: 'memory', clock: new ManualClock() });
    const slow = held(1);
    const read = cache.lookupOrLoad('k', slow.loader);
    await Promise.resolve();
    await cache.invalidate({ keys: ['k'] }, { keyVersions: { k: 2 } });
    slow.release();
    expect(await read).toMatchObject({ state: 'MISS', version: 1 });
    expect(cache.stats.staleSetsRefused).toBe(1);
    expect(await cache.lookup('k')).toBeUndefined();
    expect(await cache.l2!.get('k')).toBeUndefined();
  });

  it('a fill in flight that loaded the event\'s version is accepted', async () => {
    const cache = createCache({ l2: 'memory', clock: new ManualClock() });
    const slow = held(2);
    const read = cache.lookupOrLoad('k', slow.loader);
    await Promise.resolve();
    await cache.invalidate({ keys: ['k'] }, { keyVersions: { k: 2 } });
    slow.release();
    expect(await read).toMatchObject({ state: 'MISS', version: 2 });
    expect(cache.stats.staleSetsRefused).toBe(0);
    expect(await cache.lookup('k')).toMatchObject({ state: 'HIT', version: 2 });
  });
});

describe('the version rule trusts only what the loader read', () => {
  it('a version the caller passed to getOrLoad, which no loader confirmed, does not keep the entry', async () => {
    const clock = new ManualClock();
    const cache = new TieredCache({ clock, l1: new MemoryStore({ clock }) });
    await cache.getOrLoad('k', async () => 'old', { version: 100 });
    await cache.invalidate({ keys: ['k'] }, { keyVersions: { k: 5 } });
    expect(await cache.get('k')).toBeUndefined();
  });
});
