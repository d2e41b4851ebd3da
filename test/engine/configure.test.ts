import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';

const engine = (settings: Record<string, number>) => new TieredCache({ l1: new MemoryStore({ name: 'l1' }), ...settings });

describe('configure', () => {
  it('a maxTtlMs under the default not-found memory is refused at the start, not by every configure() after', () => {
    // Taken, it would hold a negativeTtlMs (5000) over its own maxTtlMs, and configure() checks the whole settings.
    for (const open of [() => engine({ maxTtlMs: 1000, defaultTtlMs: 500 }), () => createCache({ maxTtlMs: 1000, defaultTtlMs: 500 })]) {
      expect(open).toThrow(/\/negativeTtlMs must be at most maxTtlMs \(1000\), got the default 5000/);
    }
    const cache = engine({ maxTtlMs: 1000, defaultTtlMs: 500, negativeTtlMs: 1000 });
    cache.configure({ strategy: 'lazy' });
    expect(cache.strategy).toBe('lazy');
  });
});
