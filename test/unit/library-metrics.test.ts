import { Registry } from 'prom-client';
import type { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MemoryLog } from '../../packages/freshcache/src/adapters/memory/memory-log.js';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { CacheStats } from '../../packages/freshcache/src/engine/cache-stats.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { Metrics } from '../../packages/freshcache-server/src/observability/metrics.js';
import type { InvalidationEvent, InvalidationInput } from '../../packages/freshcache/src/seams/invalidation-log.js';

const purge = (keys: string[], committedAt: number, v = 1): InvalidationInput => ({
  kind: 'invalidate',
  v,
  keys,
  tags: [],
  prefixes: [],
  source: 'purge',
  committedAt,
});

/** The label names of every series of a registry's metric families, by family name. */
async function labelSets(registry: Registry): Promise<Map<string, string[]>> {
  const sets = new Map<string, string[]>();
  for (const { name, values } of await registry.getMetricsAsJSON()) {
    const labels = values.map((value) => Object.keys(value.labels).filter((label) => label !== 'le').sort().join(','));
    sets.set(name, [...new Set(labels)].sort());
  }
  return sets;
}

describe('createCache({ metrics: { registry } })', () => {
  it('reports reads, loads, errors, invalidations and L1 size on the application’s registry when scraped', async () => {
    const registry = new Registry();
    const cache = createCache({ metrics: { registry, name: 'shop' } });
    await cache.getOrLoad('a', async () => 'A');
    await cache.getOrLoad('a', async () => 'A');
    await cache.getOrLoad('b', async () => 'B');
    await expect(cache.getOrLoad('c', async () => Promise.reject(new Error('down')))).rejects.toThrow();
    await cache.invalidate({ keys: ['b'] });
    const text = await registry.metrics();
    expect(text).toContain('freshcache_cache_requests_total{region="shop",tier="l1",result="hit"} 1');
    expect(text).toContain('freshcache_cache_requests_total{region="shop",tier="origin",result="miss"} 3');
    expect(text).toContain('freshcache_origin_fetches_total{region="shop"} 3');
    expect(text).toContain('freshcache_origin_errors_total{region="shop"} 1');
    expect(text).toContain('freshcache_invalidations_applied_total{region="shop"} 1');
    expect(text).toContain('freshcache_entries{region="shop",tier="l1"} 1');
    await cache.close();
  });

  it('names its families and labels as a freshcache server does, for every family they share', async () => {
    const registry = new Registry();
    const log = new MemoryLog();
    const cache = createCache({ metrics: { registry }, invalidations: { log, region: 'eu-west' } });
    await cache.getOrLoad('a', async () => 'A');
    await log.publish(purge(['a'], Date.now()));
    const library = await labelSets(registry);
    const server = new Metrics(() => [
      { name: 'eu-west', stats: new CacheStats(), tiers: () => [{ tier: 'l1' as const, entries: 0, bytes: 0 }] },
    ]);
    server.observeInvalidationLag('eu-west', 0.1);
    // prom-client skips a labelled counter with no series yet: give the server's flushes one.
    (server.registry.getSingleMetric('freshcache_flushes_total') as Counter).inc({ region: 'eu-west', reason: 'log trimmed' });
    const serverSets = await labelSets(server.registry);
    expect(library.size).toBeGreaterThanOrEqual(11);
    for (const [name, labels] of library) {
      if (labels.length === 0) continue; // a family with no series yet (flushes before any flush)
      expect({ name, labels: serverSets.get(name) }).toEqual({ name, labels });
    }
    expect(await registry.metrics()).toContain('region="eu-west"');
    await cache.close();
  });

  it('counts flushes by reason and the invalidation lag of the log it follows', async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const applied: InvalidationEvent[] = [];
    const flushed: string[] = [];
    const cache = createCache({
      clock,
      metrics: { registry },
      invalidations: { log, region: 'eu-west', onApplied: (event) => applied.push(event), onFlushed: (reason) => flushed.push(reason) },
    });
    // Let the follower start (it subscribes on the next turns of the event loop).
    await clock.advanceAsync(0);
    await log.publish(purge(['a'], clock.now() - 2_000));
    // A format this version cannot read: the cache flushes (and the event counts as applied, lag 0).
    await log.publish(purge(["a"], clock.now(), 99));
    await clock.advanceAsync(0);
    expect(applied.length).toBe(2);
    expect(flushed).toEqual(['unknown event']);
    const text = await registry.metrics();
    expect(text).toContain('freshcache_flushes_total{region="eu-west",reason="unknown event"} 1');
    expect(text).toContain('freshcache_invalidation_lag_seconds_bucket{le="2",region="eu-west"} 2');
    expect(text).toContain('freshcache_invalidation_lag_seconds_bucket{le="1",region="eu-west"} 1');
    await cache.close();
  });

  it('applies an event with no commit time (one it cannot read) without a lag, and without an error', async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const applied: InvalidationEvent[] = [];
    const errors: unknown[] = [];
    const cache = createCache({
      clock,
      metrics: { registry },
      invalidations: { log, region: 'eu-west', onApplied: (event) => applied.push(event), onError: (error) => errors.push(error) },
    });
    await clock.advanceAsync(0);
    await log.publish(purge(['a'], Number.NaN, 99));
    await clock.advanceAsync(0);
    expect(errors).toEqual([]);
    expect(applied.length).toBe(1);
    expect(await registry.metrics()).not.toMatch(/freshcache_invalidation_lag_seconds_count\{region="eu-west"\} [1-9]/);
    await cache.close();
  });

  it('lets two caches share one registry under distinct names, and refuses a second cache of the same name', async () => {
    const registry = new Registry();
    const a = createCache({ metrics: { registry, name: 'a' } });
    const b = createCache({ metrics: { registry, name: 'b' } });
    await a.getOrLoad('k', async () => 1);
    await b.getOrLoad('k', async () => 1);
    await b.getOrLoad('k', async () => 1);
    const text = await registry.metrics();
    expect(text).toContain('freshcache_cache_requests_total{region="a",tier="l1",result="hit"} 0');
    expect(text).toContain('freshcache_cache_requests_total{region="b",tier="l1",result="hit"} 1');
    expect(() => createCache({ metrics: { registry, name: 'a' } })).toThrow(/already reports to this registry/);
    await a.close();
    await b.close();
  });

  it('close() unregisters what the cache registered: its series at once, the families with the last cache', async () => {
    const registry = new Registry();
    const a = createCache({ metrics: { registry, name: 'a' } });
    const b = createCache({ metrics: { registry, name: 'b' } });
    await a.close();
    const text = await registry.metrics();
    expect(text).not.toContain('region="a"');
    expect(text).toContain('region="b"');
    await b.close();
    expect(registry.getMetricsAsArray()).toEqual([]);
    // Registered again from scratch: no "already registered".
    const again = createCache({ metrics: { registry, name: 'a' } });
    expect(await registry.metrics()).toContain('freshcache_origin_fetches_total{region="a"} 0');
    await again.close();
  });
});
