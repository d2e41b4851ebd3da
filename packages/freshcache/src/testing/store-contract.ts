import { describe, expect, it } from 'vitest';
import type { ManualClock } from '../engine/clock.js';
import type { Entry } from '../seams/entry.js';
import type { ScanOptions, Store } from '../seams/store.js';

export function entry(value: unknown, overrides: Partial<Entry> = {}, clock?: ManualClock): Entry {
  const now = clock?.now() ?? Date.now();
  return { value, version: 1, tags: ['t'], createdAt: now, expiresAt: now + 60_000, staleAt: now + 60_000, size: 100, generation: 0, ...overrides };
}

/**
 * Follows a scan's cursor to the end. `seen`: each key returned once with its entry; `returned`:
 * every key of every page, repeats included (Store.scan returns each key at least once).
 */
export async function walk(store: Store, options: ScanOptions): Promise<{ seen: Map<string, Entry | undefined>; returned: string[]; pages: number }> {
  const seen = new Map<string, Entry | undefined>();
  const returned: string[] = [];
  let cursor = options.cursor;
  let pages = 0;
  do {
    const page = await store.scan({ ...options, cursor });
    pages++;
    for (const { key, entry } of page.entries) {
      seen.set(key, entry);
      returned.push(key);
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  return { seen, returned, pages };
}

/**
 * The contract every `Store` keeps. Each implementation (memory LRU, memory LFU, Redis, Redis
 * Cluster) runs this same suite. `make` builds an empty store that reads the time from the clock it
 * is given (the suite advances it to expire entries); `newClock` makes a clock for each test.
 */
export function storeContract(name: string, make: (clock: ManualClock) => Promise<Store>, newClock: () => ManualClock) {
  describe(`Store contract: ${name}`, () => {
    const setup = async () => {
      const clock = newClock();
      return { clock, store: await make(clock) };
    };

    it('returns what was set, with version, tags and expiry intact', async () => {
      const { clock, store } = await setup();
      const e = entry({ a: [1, 'two'] }, { version: 7, tags: ['x', 'y'] }, clock);
      await store.set('k', e);
      expect(await store.get('k')).toMatchObject({ value: { a: [1, 'two'] }, version: 7, tags: ['x', 'y'], expiresAt: e.expiresAt });
    });

    it('returns undefined for absent keys and after delete', async () => {
      const { clock, store } = await setup();
      expect(await store.get('nope')).toBeUndefined();
      await store.set('k', entry(1, {}, clock));
      expect(await store.delete('k')).toBe(true);
      expect(await store.delete('k')).toBe(false);
      expect(await store.get('k')).toBeUndefined();
    });

    it('dropMany (where offered) removes unversioned keys, keeps an entry holding its version or newer, and drops older ones', async () => {
      const { clock, store } = await setup();
      if (!store.dropMany) return;
      await store.set('new', entry('v5', { version: 5 }, clock));
      await store.set('same', entry('v4', { version: 4 }, clock));
      await store.set('old', entry('v3', { version: 3 }, clock));
      await store.set('none', entry('no version', { version: undefined }, clock));
      await store.set('plain', entry('v9', { version: 9 }, clock));
      const many = Array.from({ length: 300 }, (_, i) => `user:${i}`);
      for (const key of many) await store.set(key, entry(key, { version: 1 }, clock));
      const dropped = await store.dropMany([
        { key: 'new', version: 4 },
        { key: 'same', version: 4 },
        { key: 'old', version: 4 },
        { key: 'none', version: 4 },
        { key: 'absent', version: 4 },
        { key: 'plain' },
        ...many.map((key) => ({ key, version: 2 })),
      ]);
      expect(dropped).toBe(3 + many.length);
      expect((await store.get('new'))?.value).toBe('v5');
      expect((await store.get('same'))?.value).toBe('v4');
      expect(await store.get('old')).toBeUndefined();
      expect(await store.get('none')).toBeUndefined();
      expect(await store.get('plain')).toBeUndefined();
      for (const key of many) expect(await store.get(key)).toBeUndefined();
      expect(await store.dropMany([])).toBe(0);
    });

    it('replaces on set', async () => {
      const { clock, store } = await setup();
      await store.set('k', entry(1, {}, clock));
      await store.set('k', entry(2, { version: 2 }, clock));
      expect(await store.get('k')).toMatchObject({ value: 2, version: 2 });
      expect((await store.size()).entries).toBe(1);
    });

    it('never returns an entry past its expiry', async () => {
      const { clock, store } = await setup();
      await store.set('k', entry(1, { expiresAt: clock.now() + 1000 }, clock));
      clock.advance(999);
      expect(await store.get('k')).toBeDefined();
      clock.advance(1);
      expect(await store.get('k')).toBeUndefined();
    });

    it('scans by prefix in pages: every key at least once, with its entry, under an opaque cursor', async () => {
      const { clock, store } = await setup();
      const keys = Array.from({ length: 25 }, (_, i) => `user:${String(i).padStart(2, '0')}`);
      for (const k of [...keys, 'other:1', 'use']) await store.set(k, entry(k, { tags: [`tag-of-${k}`] }, clock));
      const { pages, seen } = await walk(store, { prefix: 'user:', limit: 10 });
      expect([...seen.keys()].sort()).toEqual(keys);
      for (const [key, found] of seen) expect(found).toMatchObject({ value: key, tags: [`tag-of-${key}`] });
      // The limit is a budget per call: 25 keys do not come back in one page of about 10.
      expect(pages).toBeGreaterThan(1);
    });

    it('a walk returns every key present throughout while others come and go, and only live entries', async () => {
      const { clock, store } = await setup();
      const original = Array.from({ length: 300 }, (_, i) => `k:${i}`);
      for (const k of original) await store.set(k, entry(k, {}, clock));
      const first = await store.scan({ limit: 50 });
      expect(first.cursor).toBeDefined();
      // Between pages: a third of the keys go, and enough arrive to make Redis grow its table.
      const removed = new Set(original.filter((_, i) => i % 3 === 0));
      for (const k of removed) await store.delete(k);
      const added = Array.from({ length: 2000 }, (_, i) => `n:${i}`);
      await Promise.all(added.map((k) => store.set(k, entry(k, {}, clock))));
      const { seen, returned } = await walk(store, { limit: 50, cursor: first.cursor });
      for (const { key } of first.entries) seen.set(key, undefined);
      for (const k of original) if (!removed.has(k)) expect(seen.has(k), k).toBe(true);
      for (const key of returned) expect(removed.has(key), `${key} was deleted before this page`).toBe(false);
      for (const [key, found] of seen) if (found) expect(found.value).toBe(key);
    });

    it('leaves out expired entries', async () => {
      const { clock, store } = await setup();
      await store.set('short', entry('s', { expiresAt: clock.now() + 1000 }, clock));
      await store.set('long', entry('l', { expiresAt: clock.now() + 60_000 }, clock));
      clock.advance(1000);
      expect([...(await walk(store, { limit: 100 })).seen.keys()]).toEqual(['long']);
    });

    it('rejects a malformed cursor with bad_request', async () => {
      const { store } = await setup();
      for (const cursor of ['not a cursor!', '%%%', 'abcd']) {
        await expect(store.scan({ cursor, limit: 10 }), cursor).rejects.toMatchObject({ code: 'bad_request' });
      }
    });

    it('clears everything', async () => {
      const { clock, store } = await setup();
      await store.set('a', entry(1, {}, clock));
      await store.set('b', entry(2, {}, clock));
      await store.clear();
      expect(await store.size()).toEqual({ entries: 0, bytes: 0 });
      expect(await store.get('a')).toBeUndefined();
    });
  });
}

/** The contract of `Store.leases`, for every store shared by several nodes (memory shared, Redis, Redis Cluster). */
export function fillLeaseContract(name: string, make: (clock: ManualClock) => Promise<Store>, newClock: () => ManualClock) {
  describe(`Fill lease contract: ${name}`, () => {
    const setup = async () => {
      const clock = newClock();
      const store = await make(clock);
      if (!store.leases) throw new Error(`${name} has no fill leases`);
      return { clock, store, leases: store.leases };
    };

    it('one holder at a time; its fill writes the entry and frees the lease', async () => {
      const { clock, store, leases } = await setup();
      const token = await leases.acquire('k', 10_000);
      expect(token).toEqual(expect.any(String));
      expect(await leases.acquire('k', 10_000)).toBeUndefined();
      expect(await leases.acquire('other', 10_000)).toEqual(expect.any(String));
      expect(await leases.fill('k', token!, entry('filled', {}, clock))).toBe(true);
      expect((await store.get('k'))?.value).toBe('filled');
      expect(await leases.acquire('k', 10_000)).toEqual(expect.any(String));
    });

    it('a set or a delete of the key revokes the lease: the fill read before it is refused', async () => {
      const { clock, store, leases } = await setup();
      const beforeSet = (await leases.acquire('a', 10_000))!;
      await store.set('a', entry('newer', {}, clock));
      expect(await leases.fill('a', beforeSet, entry('older', {}, clock))).toBe(false);
      expect((await store.get('a'))?.value).toBe('newer');

      const beforeDelete = (await leases.acquire('b', 10_000))!;
      await store.delete('b');
      expect(await leases.fill('b', beforeDelete, entry('older', {}, clock))).toBe(false);
      expect(await store.get('b')).toBeUndefined();
    });

    it('release frees the lease for the next node; a stranger token releases nothing', async () => {
      const { leases } = await setup();
      const token = (await leases.acquire('k', 10_000))!;
      await leases.release('k', 'not-the-holder');
      expect(await leases.acquire('k', 10_000)).toBeUndefined();
      await leases.release('k', token);
      expect(await leases.acquire('k', 10_000)).toEqual(expect.any(String));
    });
  });
}
