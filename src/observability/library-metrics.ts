import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { CacheStats } from '../engine/cache-stats.js';
import { FreshcacheError } from '../engine/errors.js';
import type { LocalStore } from '../seams/local-store.js';

/** `createCache({ metrics })`: report this cache's metrics on an application's prom-client registry. */
export interface LibraryMetricsOptions {
  registry: Registry;
  /**
   * The `region` label of this cache's series (default: the region it follows, else `default`).
   * Caches reporting to one registry need distinct names.
   */
  name?: string;
}

/** What one cache reports; its counters are read when the registry is scraped. */
interface Source {
  stats: CacheStats;
  l1: LocalStore;
  flushes: Map<string, number>;
}

/** The metric families registered once per registry, shared by every cache reporting to it. */
interface Families {
  sources: Map<string, Source>;
  names: string[];
  lag: Histogram<'region'>;
}

const LAG_BUCKETS = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30, 60];
const perRegistry = new WeakMap<Registry, Families>();

/** What `createCache` calls: counts flushes and lag (from its log follower) and unregisters on close. */
export interface LibraryMetrics {
  countFlush(reason: string): void;
  observeInvalidationLag(seconds: number): void;
  close(): void;
}

/**
 * Registers a library cache's metrics on the application's registry, with the names and labels of
 * a freshcache server's (observability/metrics.ts) where they mean the same: dashboards and
 * alerts work for both. Counters are read from `CacheStats` on scrape, so the hot path pays nothing.
 */
export function registerLibraryMetrics(options: LibraryMetricsOptions & { region: string; stats: CacheStats; l1: LocalStore }): LibraryMetrics {
  const { registry, region } = options;
  const families = perRegistry.get(registry) ?? registerFamilies(registry);
  if (families.sources.has(region)) {
    throw new FreshcacheError('bad_request', `a cache named "${region}" already reports to this registry: give each cache its own metrics.name`);
  }
  const source: Source = { stats: options.stats, l1: options.l1, flushes: new Map() };
  families.sources.set(region, source);
  return {
    countFlush: (reason) => source.flushes.set(reason, (source.flushes.get(reason) ?? 0) + 1),
    observeInvalidationLag: (seconds) => families.lag.observe({ region }, seconds),
    close() {
      if (families.sources.get(region) !== source) return;
      families.sources.delete(region);
      families.lag.remove({ region });
      if (families.sources.size > 0) return;
      for (const name of families.names) registry.removeSingleMetric(name);
      perRegistry.delete(registry);
    },
  };
}

function registerFamilies(registry: Registry): Families {
  const sources = new Map<string, Source>();
  const registers = [registry];
  const names = [
    'freshcache_cache_requests_total',
    'freshcache_stale_served_total',
    'freshcache_stale_sets_refused_total',
    'freshcache_origin_fetches_total',
    'freshcache_origin_errors_total',
    'freshcache_lease_waits_total',
    'freshcache_revalidations_total',
    'freshcache_invalidations_applied_total',
    'freshcache_evictions_total',
    'freshcache_flushes_total',
    'freshcache_entries',
    'freshcache_bytes',
    'freshcache_invalidation_lag_seconds',
  ];
  const counter = (name: string, help: string, pick: (s: CacheStats) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['region'],
      registers,
      collect() {
        this.reset();
        for (const [region, s] of sources) this.inc({ region }, pick(s.stats));
      },
    });
  new Counter({
    name: 'freshcache_cache_requests_total',
    help: 'Cache lookups by region, tier that answered, and result.',
    labelNames: ['region', 'tier', 'result'],
    registers,
    collect() {
      this.reset();
      for (const [region, { stats }] of sources) {
        this.inc({ region, tier: 'l1', result: 'hit' }, stats.l1Hits);
        this.inc({ region, tier: 'l2', result: 'hit' }, stats.l2Hits);
        this.inc({ region, tier: 'origin', result: 'miss' }, stats.misses);
        this.inc({ region, tier: 'any', result: 'stale' }, stats.staleServed);
      }
    },
  });
  counter('freshcache_stale_served_total', 'Reads answered with a STALE value.', (s) => s.staleServed);
  counter('freshcache_stale_sets_refused_total', 'Fills refused because an invalidation overtook their read.', (s) => s.staleSetsRefused);
  counter('freshcache_origin_fetches_total', 'Loads from the origin (after single flight).', (s) => s.originFetches);
  counter('freshcache_origin_errors_total', 'Loads from the origin that failed or timed out.', (s) => s.loadErrors);
  counter('freshcache_lease_waits_total', "Misses answered by another node's fill, waited for under its lease.", (s) => s.leaseWaits);
  counter('freshcache_revalidations_total', 'Background revalidations of STALE entries.', (s) => s.revalidations);
  counter('freshcache_invalidations_applied_total', 'Invalidations applied by the region.', (s) => s.invalidationsApplied);
  new Counter({
    name: 'freshcache_evictions_total',
    help: 'Entries evicted to stay within the bounds of a tier.',
    labelNames: ['region', 'tier'],
    registers,
    collect() {
      this.reset();
      for (const [region, { stats }] of sources) {
        this.inc({ region, tier: 'l1' }, stats.l1Evictions);
        this.inc({ region, tier: 'l2' }, stats.l2Evictions);
      }
    },
  });
  new Counter({
    name: 'freshcache_flushes_total',
    help: 'Whole-cache flushes of a region (a gap in the log, a switch to cdc).',
    labelNames: ['region', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const [region, { flushes }] of sources) for (const [reason, count] of flushes) this.inc({ region, reason }, count);
    },
  });
  // The L1 only: an L2 is shared, and a server (or its own owner) reports it.
  const l1Gauge = (name: string, help: string, pick: (l1: LocalStore) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['region', 'tier'],
      registers,
      collect() {
        this.reset();
        for (const [region, { l1 }] of sources) this.set({ region, tier: 'l1' }, pick(l1));
      },
    });
  l1Gauge('freshcache_entries', 'Entries held per tier.', (l1) => l1.entries);
  l1Gauge('freshcache_bytes', 'Bytes held per tier.', (l1) => l1.bytes);
  const lag = new Histogram({
    name: 'freshcache_invalidation_lag_seconds',
    help: 'From the origin commit (or purge request) to the invalidation applied in the region.',
    labelNames: ['region'],
    buckets: LAG_BUCKETS,
    registers,
  });
  const families: Families = { sources, names, lag };
  perRegistry.set(registry, families);
  return families;
}
