import { describe, expect, it } from 'vitest';
import type { LocalStore } from '../seams/local-store.js';
import { entry } from './store-contract.js';

/**
 * The contract every `LocalStore` (a cache's synchronous L1) keeps. `make` builds an empty store
 * that holds at most `maxEntries` entries.
 */
export function localStoreContract(name: string, make: (bounds: { maxEntries: number }) => LocalStore) {
  describe(`LocalStore contract: ${name}`, () => {
    const store = () => make({ maxEntries: 1000 });

    it('reads back the very object written (the engine keeps bookkeeping on it), and undefined when absent', () => {
      const s = store();
      const e = entry({ a: 1 }, { version: 7, tags: ['x'] });
      s.write('k', e);
      expect(s.read('k')).toBe(e);
      expect(s.peek('k')).toBe(e);
      expect(s.read('nope')).toBeUndefined();
      expect(s.peek('nope')).toBeUndefined();
    });

    it('keeps an entry past its expiry as given: judging it is the engine’s work', () => {
      const s = store();
      const expired = entry(1, { createdAt: 0, expiresAt: 1, staleAt: 1 });
      s.write('k', expired);
      expect(s.read('k')).toBe(expired);
      expect(s.peek('k')).toBe(expired);
      expect([...s.keys()]).toEqual(['k']);
    });

    it('replaces on write, removes on remove (true only when the key was there)', () => {
      const s = store();
      s.write('k', entry(1));
      const second = entry(2);
      s.write('k', second);
      expect(s.read('k')).toBe(second);
      expect(s.entries).toBe(1);
      expect(s.remove('k')).toBe(true);
      expect(s.remove('k')).toBe(false);
      expect(s.read('k')).toBeUndefined();
      expect(s.entries).toBe(0);
    });

    it('lists every key held once, and counts entries and bytes', () => {
      const s = store();
      const keys = Array.from({ length: 50 }, (_, i) => `k:${i}`);
      for (const k of keys) s.write(k, entry(k, { size: 10 }));
      s.remove('k:0');
      expect([...s.keys()].sort()).toEqual(keys.slice(1).sort());
      expect(s.entries).toBe(49);
      expect(s.bytes).toBe(490);
    });

    it('clears everything before clear returns', () => {
      const s = store();
      s.write('a', entry(1));
      s.write('b', entry(2));
      s.clear();
      expect(s.entries).toBe(0);
      expect(s.bytes).toBe(0);
      expect([...s.keys()]).toEqual([]);
      expect(s.read('a')).toBeUndefined();
    });

    it('stays within its bound of entries, evicting others on write', () => {
      const s = make({ maxEntries: 3 });
      for (const k of ['a', 'b', 'c', 'd', 'e']) s.write(k, entry(k));
      expect(s.entries).toBe(3);
      expect([...s.keys()]).toHaveLength(3);
      expect(s.peek('e')).toBeDefined();
    });

    it('a read counts as a use for eviction, a peek does not', () => {
      // b is read 3 times, then a 6 times: whatever the policy (recency or frequency), the
      // entry used last and most stays when c pushes one out.
      const afterUses = (use: (s: LocalStore, key: string) => unknown) => {
        const s = make({ maxEntries: 2 });
        s.write('a', entry('a'));
        s.write('b', entry('b'));
        for (let i = 0; i < 3; i++) s.read('b');
        for (let i = 0; i < 6; i++) use(s, 'a');
        s.write('c', entry('c'));
        return [...s.keys()].sort();
      };
      expect(afterUses((s, key) => s.read(key))).toEqual(['a', 'c']);
      expect(afterUses((s, key) => s.peek(key))).toEqual(['b', 'c']);
    });
  });
}
