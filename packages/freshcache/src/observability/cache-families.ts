import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { CacheStats } from '../engine/cache-stats.js';

/** One cache as its metric families read it when the registry is scraped. */
export interface CacheFamilySource {
  /** The `region` label. */
  region: string;
  stats: CacheStats;
  tiers(): { tier: 'l1' | 'l2'; entries: number; bytes: number }[];
}

/** The names `registerCacheFamilies` registers. */
export const CACHE_FAMILY_NAMES = [
  'freshcache_cache_requests_total',
  'freshcache_stale_served_total',
  'freshcache_stale_sets_refused_total',
  'freshcache_origin_fetches_total',
  'freshcache_origin_errors_total',
  'freshcache_lease_waits_total',
  'freshcache_negative_hits_total',
  'freshcache_revalidations_total',
  'freshcache_invalidations_applied_total',
  'freshcache_evictions_total',
  'freshcache_entries',
  'freshcache_bytes',
] as const;

/**
 * The metric families of a cache's own counters, one set for a server's regions and for library
 * caches alike, so that dashboards and alerts read both. They are plain numbers read from
 * `CacheStats` on scrape: nothing on the hot path.
 */
export function registerCacheFamilies(registers: Registry[], sources: () => Iterable<CacheFamilySource>): void {
  const counter = (name: string, help: string, pick: (s: CacheStats) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['region'],
      registers,
      collect() {
        this.reset();
        for (const { region, stats } of sources()) this.inc({ region }, pick(stats));
      },
    });
  new Counter({
    name: 'freshcache_cache_requests_total',
    help: 'Cache lookups by region, tier that answered, and result.',
    labelNames: ['region', 'tier', 'result'],
    registers,
    collect() {
      this.reset();
      for (const { region, stats } of sources()) {
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
  counter('freshcache_negative_hits_total', 'Reads answered not_found from a remembered not_found, without a load.', (s) => s.negativeHits);
  counter('freshcache_revalidations_total', 'Background revalidations of STALE entries.', (s) => s.revalidations);
  counter('freshcache_invalidations_applied_total', 'Invalidations applied by the region.', (s) => s.invalidationsApplied);
  new Counter({
    name: 'freshcache_evictions_total',
    help: 'Entries evicted to stay within the bounds of a tier.',
    labelNames: ['region', 'tier'],
    registers,
    collect() {
      this.reset();
      for (const { region, stats } of sources()) {
        this.inc({ region, tier: 'l1' }, stats.l1Evictions);
        this.inc({ region, tier: 'l2' }, stats.l2Evictions);
      }
    },
  });
  const tierGauge = (name: string, help: string, pick: (t: { entries: number; bytes: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['region', 'tier'],
      registers,
      collect() {
        this.reset();
        for (const { region, tiers } of sources()) for (const t of tiers()) this.set({ region, tier: t.tier }, pick(t));
      },
    });
  tierGauge('freshcache_entries', 'Entries held per tier.', (t) => t.entries);
  tierGauge('freshcache_bytes', 'Bytes held per tier.', (t) => t.bytes);
}
