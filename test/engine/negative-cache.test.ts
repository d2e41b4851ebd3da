import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { FreshcacheError } from '../../packages/freshcache/src/engine/errors.js';
import type { LoadContext } from '../../packages/freshcache/src/engine/tiered-cache.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';

/** A source whose rows the test creates: the loader throws not_found for a key it does not hold. */
function source(tags: string[] = []) {
  const rows = new Map<string, string>();
  let calls = 0;
  let gate: Promise<void> | undefined;
  let onRead: (() => void) | undefined;
  const loader = async (ctx: LoadContext) => {
    calls++;
    onRead?.();
    // Read the row first, then wait: a held read answers what the source held when it began.
    const row = rows.get(ctx.key);
    if (gate) await gate;
    ctx.tags = tags;
    if (row === undefined) throw new FreshcacheError('not_found', `no row ${ctx.key}`);
    return row;
  };
  /** Holds the next reads until `release` is called; `reading` settles once one has read. */
  const hold = () => {
    let release!: () => void;
    gate = new Promise<void>((resolve) => (release = resolve));
    const reading = new Promise<void>((resolve) => (onRead = resolve));
    return {
      reading,
      release: () => {
        gate = undefined;
        onRead = undefined;
        release();
      },
    };
  };
  return { rows, loader, hold, calls: () => calls };
}

const notFound = { code: 'not_found' };

describe('negative caching', () => {
  it('repeated reads of an unknown key within negativeTtlMs call the loader once, and again after it', async () => {
    const clock = new ManualClock();
    const cache = createCache({ clock, l2: 'memory', negativeTtlMs: 1000 });
    const db = source();
    await expect(cache.getOrLoad('user:404', db.loader)).rejects.toMatchObject(notFound);
    clock.advance(999);
    for (let i = 0; i < 5; i++) await expect(cache.getOrLoad('user:404', db.loader)).rejects.toMatchObject({ ...notFound, message: 'no row user:404' });
    await expect(cache.lookupOrLoad('user:404', db.loader)).rejects.toMatchObject(notFound);
    expect(db.calls()).toBe(1);
    expect(cache.stats.negativeHits).toBe(6);
    expect(cache.stats.loadErrors).toBe(0);
    clock.advance(1);
    await expect(cache.getOrLoad('user:404', db.loader)).rejects.toMatchObject(notFound);
    expect(db.calls()).toBe(2);
  });

  it('remembers not_found for 5 seconds by default', async () => {
    const clock = new ManualClock();
    const cache = createCache({ clock });
    const db = source();
    await expect(cache.getOrLoad('k', db.loader)).rejects.toMatchObject(notFound);
    clock.advance(4999);
    await expect(cache.getOrLoad('k', db.loader)).rejects.toMatchObject(notFound);
    expect(db.calls()).toBe(1);
    clock.advance(1);
    await expect(cache.getOrLoad('k', db.loader)).rejects.toMatchObject(notFound);
    expect(db.calls()).toBe(2);
  });

  it('negativeTtlMs: 0 turns it off: every read calls the loader', async () => {
    const cache = createCache({ negativeTtlMs: 0 });
    const db = source();
    for (let i = 0; i < 3; i++) await expect(cache.getOrLoad('k', db.loader)).rejects.toMatchObject(notFound);
    expect(db.calls()).toBe(3);
    expect(cache.negativeCount).toBe(0);
  });

  it('an invalidation of the key, a tag, a prefix or all makes the next read call the loader and see the new row', async () => {
    for (const targets of [{ keys: ['user:7'] }, { tags: ['users'] }, { prefixes: ['user:'] }, { all: true }]) {
      for (const strategy of ['eager', 'lazy'] as const) {
        const cache = createCache({ strategy, l2: 'memory' });
        const db = source(['users']);
        await expect(cache.getOrLoad('user:7', db.loader)).rejects.toMatchObject(notFound);
        db.rows.set('user:7', 'Ada'); // the INSERT, then its captured invalidation
        await cache.invalidate(targets);
        expect(await cache.getOrLoad('user:7', db.loader), JSON.stringify({ targets, strategy })).toBe('Ada');
        expect(db.calls()).toBe(2);
      }
    }
  });

  it('a not_found read overtaken by an invalidation of its key is aborted and read again, and never remembered', async () => {
    const cache = createCache({ l2: 'memory' });
    const db = source();
    const held = db.hold();
    const early = cache.getOrLoad('user:7', db.loader); // reads "no row" and is held
    await held.reading;
    db.rows.set('user:7', 'Ada');
    await cache.invalidate({ keys: ['user:7'] }); // the INSERT's
    const late = cache.getOrLoad('user:7', db.loader); // joins the read made after it
    held.release();
    expect(await early).toBe('Ada');
    expect(await late).toBe('Ada');
    expect(db.calls()).toBe(2);
    expect(cache.stats.staleSetsRefused).toBe(1);
    expect(cache.negativeCount).toBe(0);
  });

  it('a not_found read that a versioned INSERT overtook is not remembered, and a reader after it reads again', async () => {
    // A key target with a version does not abort the read (it may meet the version): the fill is refused instead.
    const cache = createCache({ l2: 'memory' });
    const db = source();
    const held = db.hold();
    const early = cache.getOrLoad('user:7', db.loader); // reads "no row" and is held
    await held.reading;
    db.rows.set('user:7', 'Ada');
    await cache.invalidate({ keys: ['user:7'] }, { keyVersions: { 'user:7': 1 } });
    const late = cache.getOrLoad('user:7', db.loader); // arrives after the INSERT's invalidation
    held.release();
    await expect(early).rejects.toMatchObject(notFound); // asked before the row existed: fair
    expect(await late).toBe('Ada');
    expect(await cache.getOrLoad('user:7', db.loader)).toBe('Ada');
    expect(cache.stats.staleSetsRefused).toBe(1);
  });

  it('a reader after the INSERT\'s invalidation reads again even when a later invalidation overtook the old read too', async () => {
    const cache = createCache();
    const db = source();
    const held = db.hold();
    const early = cache.getOrLoad('user:7', db.loader);
    await held.reading;
    db.rows.set('user:7', 'Ada');
    await cache.invalidate({ keys: ['user:7'] }, { keyVersions: { 'user:7': 1 } }); // the INSERT
    const late = cache.getOrLoad('user:7', db.loader);
    await cache.invalidate({ tags: ['unrelated'] });
    await cache.invalidate({ keys: ['user:7'] }, { keyVersions: { 'user:7': 2 } }); // an UPDATE, after the late reader arrived
    held.release();
    await expect(early).rejects.toMatchObject(notFound);
    expect(await late).toBe('Ada');
  });

  it('set() and delete() forget a remembered not_found', async () => {
    const cache = createCache({ l2: 'memory' });
    const db = source();
    await expect(cache.getOrLoad('a', db.loader)).rejects.toMatchObject(notFound);
    await cache.set('a', 'written');
    cache.l1.remove('a'); // L1 let it go: L2's value answers, not the old not_found
    expect(await cache.getOrLoad('a', db.loader)).toBe('written');
    await expect(cache.getOrLoad('b', db.loader)).rejects.toMatchObject(notFound);
    await cache.delete('b');
    await expect(cache.getOrLoad('b', db.loader)).rejects.toMatchObject(notFound);
    expect(db.calls()).toBe(3);
  });

  it('a set() dated at a log position older than this node can judge forgets a remembered not_found too', async () => {
    const clock = new ManualClock();
    const cache = new TieredCache({ clock, l1: new MemoryStore({ name: 'l1', clock }), l2: new MemoryStore({ name: 'l2', clock, shared: true }) });
    const db = source();
    await expect(cache.getOrLoad('k', db.loader)).rejects.toMatchObject(notFound);
    db.rows.set('k', 'v');
    cache.trustFrom(5); // this node knows nothing before position 5: the write below lands only in L2
    await cache.set('k', 'v', { position: 3 });
    expect(await cache.getOrLoad('k', db.loader)).toBe('v');
  });

  it('is never served as a value: get() and lookup() report a miss, and L1 and L2 hold nothing', async () => {
    const cache = createCache({ l2: 'memory' });
    const db = source();
    await expect(cache.getOrLoad('k', db.loader)).rejects.toMatchObject(notFound);
    expect(cache.negativeCount).toBe(1);
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.lookup('k')).toBeUndefined();
    expect(cache.peekFresh('k')).toBeUndefined();
    expect(cache.l1.peek('k')).toBeUndefined();
    expect(await cache.l2!.get('k')).toBeUndefined();
    expect(await cache.describe('k')).toBeUndefined();
  });

  it('load() reads the source whatever is remembered, and its not_found is remembered for readers', async () => {
    const cache = createCache();
    const db = source();
    cache.define('user:{id}', { load: (_params, ctx) => db.loader(ctx) });
    await expect(cache.load('user:1')).rejects.toMatchObject(notFound);
    await expect(cache.getOrLoad('user:1')).rejects.toMatchObject(notFound);
    expect(db.calls()).toBe(1);
    db.rows.set('user:1', 'Ada');
    expect(await cache.load('user:1')).toBe('Ada'); // a warming job does reach the source
    expect(await cache.getOrLoad('user:1')).toBe('Ada');
    expect(db.calls()).toBe(2);
    cache.l1.remove('user:1'); // evicted: the value it loaded also made the cache forget the not_found
    expect(await cache.getOrLoad('user:1')).toBe('Ada');
  });

  it('a revalidation that finds the row gone stops serving the old value', async () => {
    const clock = new ManualClock();
    const cache = createCache({ clock });
    const db = source();
    db.rows.set('k', 'old');
    await cache.getOrLoad('k', db.loader, { ttlMs: 60_000, staleAfterMs: 1000 });
    db.rows.delete('k');
    clock.advance(1000);
    expect(await cache.lookupOrLoad('k', db.loader)).toMatchObject({ state: 'STALE', value: 'old' });
    await clock.advanceAsync(0);
    await expect(cache.getOrLoad('k', db.loader)).rejects.toMatchObject(notFound);
    expect(db.calls()).toBe(2);
  });

  it('holds a bounded number of not_found answers, apart from L1: a flood of unknown ids evicts no value', async () => {
    const cache = createCache({ l1: { maxEntries: 10 } });
    const db = source();
    db.rows.set('hot', 'v');
    await cache.getOrLoad('hot', db.loader);
    for (let i = 0; i < 10_050; i++) await cache.getOrLoad(`id:${i}`, db.loader).catch(() => {});
    expect(cache.negativeCount).toBe(10_000);
    expect(await cache.lookupOrLoad('hot', db.loader)).toMatchObject({ state: 'HIT', tier: 'l1' });
    // The oldest answers went first.
    await expect(cache.getOrLoad('id:0', db.loader)).rejects.toMatchObject(notFound);
    expect(db.calls()).toBe(1 + 10_050 + 1);
  });

  it('counts the reads a remembered not_found answered, in stats and in freshcache_negative_hits_total', async () => {
    const registry = new Registry();
    const cache = createCache({ metrics: { registry, name: 'r' } });
    const db = source();
    for (let i = 0; i < 3; i++) await expect(cache.getOrLoad('k', db.loader)).rejects.toMatchObject(notFound);
    expect(cache.stats).toMatchObject({ negativeHits: 2, originFetches: 1, loadErrors: 0 });
    expect(await registry.metrics()).toMatch(/^freshcache_negative_hits_total\{region="r"\} 2$/m);
    await cache.close();
  });

  it('createCache refuses a negativeTtlMs that is negative, not a number, or over maxTtlMs', () => {
    for (const negativeTtlMs of [-1, Number.NaN, 86_400_001]) {
      expect(() => createCache({ negativeTtlMs }), String(negativeTtlMs)).toThrow(expect.objectContaining({ code: 'bad_request' }));
    }
  });
});
