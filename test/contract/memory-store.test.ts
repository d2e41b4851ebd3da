import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { typedJsonSerializer } from '../../packages/freshcache/src/engine/typed-json-serializer.js';
import { localStoreContract } from '../../packages/freshcache/src/testing/local-store-contract.js';
import { entry, fillLeaseContract, storeContract } from '../../packages/freshcache/src/testing/store-contract.js';

for (const policy of ['lru', 'lfu'] as const) {
  storeContract(`MemoryStore (${policy})`, async (clock) => new MemoryStore({ policy, clock }), () => new ManualClock());
  localStoreContract(`MemoryStore (${policy})`, ({ maxEntries }) => new MemoryStore({ policy, maxEntries }));

  describe(`MemoryStore (${policy}) bounds`, () => {
    it('holds at most maxEntries and counts evictions', async () => {
      const evicted: string[] = [];
      const store = new MemoryStore({ policy, maxEntries: 3, onEvict: (k) => evicted.push(k) });
      for (const k of ['a', 'b', 'c', 'd', 'e']) await store.set(k, entry(k));
      expect((await store.size()).entries).toBe(3);
      expect(evicted).toHaveLength(2);
    });

    it('holds at most maxBytes', async () => {
      const store = new MemoryStore({ policy, maxEntries: 100, maxBytes: 1000 });
      for (let i = 0; i < 20; i++) await store.set(`k${i}`, entry(i, { size: 100 }));
      const { entries, bytes } = await store.size();
      expect(bytes).toBeLessThanOrEqual(1000);
      expect(entries).toBe(10);
    });
  });
}

storeContract('MemoryStore (shared)', async (clock) => new MemoryStore({ clock, shared: true }), () => new ManualClock());
fillLeaseContract('MemoryStore (shared)', async (clock) => new MemoryStore({ clock, shared: true }), () => new ManualClock());
// The embedded L2 as createCache and a region build it: values kept as the serializer's text.
storeContract('MemoryStore (shared, serialized)', async (clock) => new MemoryStore({ clock, shared: true, serializer: typedJsonSerializer }), () => new ManualClock());
fillLeaseContract('MemoryStore (shared, serialized)', async (clock) => new MemoryStore({ clock, shared: true, serializer: typedJsonSerializer }), () => new ManualClock());

describe('eviction policies differ as named', () => {
  it('LRU evicts the least recently used, LFU the least frequently used', async () => {
    const lru = new MemoryStore({ policy: 'lru', maxEntries: 2 });
    const lfu = new MemoryStore({ policy: 'lfu', maxEntries: 2 });
    for (const store of [lru, lfu]) {
      store.write('popular', entry('p'));
      for (let i = 0; i < 5; i++) store.read('popular');
      store.write('recent', entry('r'));
      store.read('recent');
      store.write('new', entry('n'));
    }
    // LRU keeps the two most recent; LFU keeps the popular one.
    expect(lru.peek('popular')).toBeUndefined();
    expect(lru.peek('recent')).toBeDefined();
    expect(lfu.peek('popular')).toBeDefined();
    expect(lfu.peek('recent')).toBeUndefined();
    expect(lfu.peek('new')).toBeDefined();
  });
});
