/**
 * Plain counters kept by the engine on its hot path. Incrementing a number costs nothing;
 * the metrics layer reads them when Prometheus scrapes (observability/metrics.ts).
 */
export class CacheStats {
  l1Hits = 0;
  l2Hits = 0;
  misses = 0;
  staleServed = 0;
  originFetches = 0;
  loadErrors = 0;
  staleSetsRefused = 0;
  revalidations = 0;
  /** Misses answered by another node's fill, waited for under its lease instead of loading. */
  leaseWaits = 0;
  /** Reads answered not_found from a remembered not_found, without calling the loader. */
  negativeHits = 0;
  l1Evictions = 0;
  l2Evictions = 0;
  invalidationsApplied = 0;
  flushes = 0;
}
