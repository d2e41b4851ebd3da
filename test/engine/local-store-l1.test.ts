import { describe, expect, it } from 'vitest';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import type { Entry } from '../../packages/freshcache/src/seams/entry.js';
import type { LocalStore } from '../../packages/freshcache/src/seams/local-store.js';

/** The smallest LocalStore there is: a Map, unbounded, that knows no clock. */
class MapStore implements LocalStore {
  readonly map = new Map<string, Entry>();
  read = (key: string) => this.map.get(key);
  peek = (key: string) => this.map.get(key);
  write = (key: string, entry: Entry) => void this.map.set(key, entry);
  remove = (key: string) => this.map.delete(key);
  clear = () => this.map.clear();
  keys = () => this.map.keys();
  get entries() {
    return this.map.size;
  }
  get bytes() {
    return [...this.map.values()].reduce((sum, e) => sum + Math.max(1, e.size), 0);
  }
}

describe('an L1 of your own', () => {
  it('createCache takes any LocalStore as L1: hits come from it, a purge and the key explorer reach it', async () => {
    const l1 = new MapStore();
    const cache = createCache({ l1, clock: new ManualClock() });
    await cache.set('user:1', { name: 'Ada' }, { tags: ['org:1'] });
    expect(l1.map.has('user:1')).toBe(true);
    expect(await cache.getOrLoad('user:1', () => Promise.reject(new Error('a hit must not load')))).toEqual({ name: 'Ada' });
    expect((await cache.scan({ limit: 10 })).items.map((item) => item.key)).toEqual(['user:1']);
    await cache.invalidate({ tags: ['org:1'] });
    expect(await cache.get('user:1')).toBeUndefined();
    expect(l1.map.has('user:1')).toBe(false);
  });

  it('the engine judges expiry itself: an expired entry the store still holds is never served or listed', async () => {
    const clock = new ManualClock();
    const l1 = new MapStore();
    const cache = createCache({ l1, clock });
    await cache.set('k', 1, { ttlMs: 1000 });
    clock.advance(1000);
    expect(l1.map.has('k')).toBe(true);
    expect(cache.peekFresh('k')).toBeUndefined();
    expect(await cache.describe('k')).toBeUndefined();
    expect((await cache.scan({ limit: 10 })).items).toEqual([]);
    expect((await cache.matching({ keys: ['k'] })).total).toBe(0);
    expect(await cache.lookup('k')).toBeUndefined();
    expect(l1.map.has('k')).toBe(false);
  });
});
