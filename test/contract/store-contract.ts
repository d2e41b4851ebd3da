import { describe, expect, it } from 'vitest';
import type { ManualClock } from '../../src/engine/clock.js';
import type { Entry } from '../../src/engine/entry.js';
import type { Store } from '../../src/seams/store.js';

export function entry(value: unknown, overrides: Partial<Entry> = {}, clock?: ManualClock): Entry {
  const now = clock?.now() ?? Date.now();
  return { value, version: 1, tags: ['t'], createdAt: now, expiresAt: now + 60_000, staleAt: now + 60_000, size: 100, generation: 0, ...overrides };
}

/**
 * The contract every `Store` keeps. Each implementation (memory LRU, memory LFU, and later Redis,
 * Redis Cluster, the sharded ring) runs this same suite.
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

    it('scans by prefix in pages, each key once', async () => {
      const { clock, store } = await setup();
      const keys = Array.from({ length: 25 }, (_, i) => `user:${String(i).padStart(2, '0')}`);
      for (const k of [...keys, 'other:1']) await store.set(k, entry(k, {}, clock));
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.scan({ prefix: 'user:', cursor, limit: 10 });
        expect(page.keys.length).toBeLessThanOrEqual(10);
        seen.push(...page.keys);
        cursor = page.cursor;
      } while (cursor !== undefined);
      expect(seen.sort()).toEqual(keys);
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
