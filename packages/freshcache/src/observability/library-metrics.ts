import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { CacheStats } from '../engine/cache-stats.js';
import { FreshcacheError } from '../engine/errors.js';
import type { LocalStore } from '../seams/local-store.js';
import { CACHE_FAMILY_NAMES, registerCacheFamilies } from './cache-families.js';

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
  const names = [...CACHE_FAMILY_NAMES, 'freshcache_flushes_total', 'freshcache_invalidation_lag_seconds'];
  // The L1 only: an L2 is shared, and a server (or its own owner) reports it.
  registerCacheFamilies(registers, () =>
    [...sources].map(([region, { stats, l1 }]) => ({ region, stats, tiers: () => [{ tier: 'l1' as const, entries: l1.entries, bytes: l1.bytes }] })),
  );
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
