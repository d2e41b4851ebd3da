import type { NodeMetrics, Percentiles } from './metrics.js';
import { QuantileSketch } from './quantile-sketch.js';

/** What `/api/metrics` answers per region. */
export interface RegionMetrics {
  requests: Record<string, number>;
  hitRatio: number | null;
  latencyMs: Percentiles;
  invalidationLagMs: Percentiles;
  entries: Record<string, number>;
  bytes: Record<string, number>;
}

/**
 * The fleet's figures from each node's: counters, entries and bytes are summed; percentiles come
 * from the nodes' sketches merged, never from their percentiles averaged.
 */
export function mergeNodeMetrics(nodes: readonly NodeMetrics[]): Record<string, RegionMetrics> {
  const merged = new Map<string, { requests: Record<string, number>; entries: Record<string, number>; bytes: Record<string, number>; latency: QuantileSketch; lag: QuantileSketch; latencyCount: number; lagCount: number }>();
  for (const node of nodes) {
    for (const [name, region] of Object.entries(node.regions)) {
      let into = merged.get(name);
      if (!into) merged.set(name, (into = { requests: {}, entries: {}, bytes: {}, latency: new QuantileSketch(region.latencyMs.sketch.alpha), lag: new QuantileSketch(region.invalidationLagMs.sketch.alpha), latencyCount: 0, lagCount: 0 }));
      addUp(into.requests, region.requests);
      addUp(into.entries, region.entries);
      addUp(into.bytes, region.bytes);
      into.latency.merge(region.latencyMs.sketch);
      into.lag.merge(region.invalidationLagMs.sketch);
      into.latencyCount += region.latencyMs.count;
      into.lagCount += region.invalidationLagMs.count;
    }
  }
  const result: Record<string, RegionMetrics> = {};
  for (const [name, region] of merged) {
    const { l1Hits = 0, l2Hits = 0, misses = 0, staleServed = 0 } = region.requests;
    const lookups = l1Hits + l2Hits + misses + staleServed;
    result[name] = {
      requests: region.requests,
      hitRatio: lookups === 0 ? null : (l1Hits + l2Hits) / lookups,
      latencyMs: percentilesOf(region.latency, region.latencyCount),
      invalidationLagMs: percentilesOf(region.lag, region.lagCount),
      entries: region.entries,
      bytes: region.bytes,
    };
  }
  return result;
}

function addUp(into: Record<string, number>, from: Record<string, number>): void {
  for (const [name, value] of Object.entries(from)) into[name] = (into[name] ?? 0) + value;
}

function percentilesOf(sketch: QuantileSketch, count: number): Percentiles {
  const at = (q: number) => {
    const value = sketch.quantile(q);
    return value === null ? null : Math.round(value * 1000) / 1000;
  };
  return { count, p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99) };
}
