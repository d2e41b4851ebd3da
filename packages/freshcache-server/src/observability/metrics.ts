import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type Clock, systemClock, registerCacheFamilies, type CacheStats } from 'freshcache';
import { BucketHistogram } from './bucket-histogram.js';
import type { HistogramSeries } from './bucket-histogram.js';
import { MetricsHistory } from './metrics-history.js';
import { RecentWindow } from './recent-window.js';
import { QuantileSketch } from './quantile-sketch.js';
import type { SketchJson } from './quantile-sketch.js';

/** What the metrics read from a region when Prometheus scrapes. */
export interface RegionMetricsSource {
  name: string;
  stats: CacheStats;
  tiers(): { tier: 'l1' | 'l2'; entries: number; bytes: number }[];
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const LAG_BUCKETS = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30, 60];

export interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * Prometheus metrics (prom-client) in a registry of their own, so several topologies (tests) never
 * share counters. Engine counters are plain numbers read at scrape time: nothing on the hot path.
 * Latency and lag are observed both into histograms (for Prometheus, which computes quantiles
 * with histogram_quantile) and into windows of recent samples (the p50/p90/p95/p99 of `/api/metrics`).
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requestDuration: BucketHistogram<'region' | 'route' | 'cache'>;
  private readonly invalidationLag: Histogram<'region'>;
  private readonly recentLatency = new Map<string, RecentWindow>();
  private readonly recentLag = new Map<string, RecentWindow>();
  private readonly durationChildren = new Map<string, Map<string, Map<string, HistogramSeries>>>();
  private readonly published: Counter<'source'>;
  private readonly flushes: Counter<'region' | 'reason'>;

  /** The recent past per step, for the dashboard's charts; sampling runs between `history.start()` and `stop()`. */
  readonly history: MetricsHistory;

  constructor(
    private readonly regions: () => RegionMetricsSource[],
    clock: Clock = systemClock,
  ) {
    this.history = new MetricsHistory({ clock, regions });
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'freshcache_process_' });
    registerCacheFamilies(registers, () => this.regions().map((r) => ({ region: r.name, stats: r.stats, tiers: () => r.tiers() })));

    // Observed on every edge hit: prom-client's Histogram cost 15 % of a hit (see bucket-histogram.ts).
    this.requestDuration = new BucketHistogram(
      'freshcache_edge_request_duration_seconds',
      'Edge read latency by region and cache result.',
      ['region', 'route', 'cache'],
      LATENCY_BUCKETS,
      registers,
    );
    this.invalidationLag = new Histogram({
      name: 'freshcache_invalidation_lag_seconds',
      help: 'From the origin commit (or purge request) to the invalidation applied in the region.',
      labelNames: ['region'],
      buckets: LAG_BUCKETS,
      registers,
    });
    this.published = new Counter({
      name: 'freshcache_invalidations_published_total',
      help: 'Invalidation events appended to the log, by source.',
      labelNames: ['source'],
      registers,
    });
    this.flushes = new Counter({
      name: 'freshcache_flushes_total',
      help: 'Whole-cache flushes of a region (a gap in the log, a switch to cdc).',
      labelNames: ['region', 'reason'],
      registers,
    });
  }

  observeEdgeRequest(region: string, route: string, cache: string, seconds: number): void {
    // Labelled children are cached, two map lookups deep (no key string built per request):
    // resolving labels per observation costs more than observing.
    let byCache = this.durationChildren.get(region)?.get(route);
    if (!byCache) {
      const byRoute = this.durationChildren.get(region) ?? new Map<string, Map<string, HistogramSeries>>();
      this.durationChildren.set(region, byRoute);
      byRoute.set(route, (byCache = new Map()));
    }
    let child = byCache.get(cache);
    if (!child) byCache.set(cache, (child = this.requestDuration.series({ region, route, cache })));
    child.observe(seconds);
    windowFor(this.recentLatency, region).observe(seconds);
    this.history.observeLatency(region, seconds);
  }

  observeInvalidationLag(region: string, seconds: number): void {
    this.invalidationLag.observe({ region }, seconds);
    windowFor(this.recentLag, region).observe(seconds);
    this.history.observeLag(region, seconds);
  }

  countPublished(source: string): void {
    this.published.inc({ source });
  }

  /**
   * Gauges of the distributed parts, read when Prometheus scrapes: whether this process relays,
   * how much WAL its replication slot holds back, and the state of each circuit breaker.
   */
  watchParts(parts: {
    /** Absent in a process without the relay role. */
    relay?: () => 'running' | 'standby' | 'stopped' | undefined;
    slotLagBytes?: () => Promise<number>;
    breakers: () => { name: string; state: string }[];
    /** Absent without a Redis log. */
    logUnreplicated?: () => boolean;
  }): void {
    const registers = [this.registry];
    const relay = parts.relay;
    if (relay) {
      new Gauge({
        name: 'freshcache_relay_running',
        help: 'Whether this relay candidate is the active relay (1) or a standby or stopped (0).',
        registers,
        collect() {
          this.set(relay() === 'running' ? 1 : 0);
        },
      });
    }
    const slotLag = parts.slotLagBytes;
    if (slotLag) {
      new Gauge({
        name: 'freshcache_wal_slot_lag_bytes',
        help: 'WAL the relay\'s replication slot holds back: current WAL position minus what the slot confirmed.',
        registers,
        async collect() {
          // A scrape while PostgreSQL is down shows no value rather than failing the whole scrape.
          const bytes = await slotLag().catch(() => undefined);
          this.reset();
          if (bytes !== undefined) this.set(bytes);
        },
      });
    }
    const logUnreplicated = parts.logUnreplicated;
    if (logUnreplicated) {
      new Gauge({
        name: 'freshcache_log_unreplicated',
        help: 'Whether this process\'s appends to the invalidation log go on without a replica (1: the log\'s Redis primary has none connected, so a failover could lose them) or wait for one (0).',
        registers,
        collect() {
          this.set(logUnreplicated() ? 1 : 0);
        },
      });
    }
    new Gauge({
      name: 'freshcache_circuit_breaker_state',
      help: 'Circuit breakers in front of the shared tier: 1 for the state each is in (closed, open, half-open).',
      labelNames: ['breaker', 'state'],
      registers,
      collect() {
        this.reset();
        for (const breaker of parts.breakers()) {
          for (const state of ['closed', 'open', 'half-open']) this.set({ breaker: breaker.name, state }, breaker.state === state ? 1 : 0);
        }
      },
    });
  }

  countFlush(region: string, reason: string): void {
    this.flushes.inc({ region, reason });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** This node's figures for `/api/metrics/node`: what a control process adds up over the fleet. */
  async nodeSnapshot(): Promise<NodeMetrics> {
    const { regions } = await this.snapshot();
    const result: NodeMetrics = { regions: {} };
    for (const [name, region] of Object.entries(regions)) {
      const latency = this.recentLatency.get(name);
      const lag = this.recentLag.get(name);
      result.regions[name] = {
        requests: region.requests,
        entries: region.entries,
        bytes: region.bytes,
        latencyMs: { sketch: (latency?.sketch() ?? new QuantileSketch()).toJSON(), count: region.latencyMs.count },
        invalidationLagMs: { sketch: (lag?.sketch() ?? new QuantileSketch()).toJSON(), count: region.invalidationLagMs.count },
      };
    }
    return result;
  }

  /** The figures the dashboard and `/api/metrics` show, per region, with percentiles in ms. */
  async snapshot(): Promise<{
    regions: Record<string, { requests: Record<string, number>; hitRatio: number | null; latencyMs: Percentiles; invalidationLagMs: Percentiles; entries: Record<string, number>; bytes: Record<string, number> }>;
  }> {
    const regions: Awaited<ReturnType<Metrics['snapshot']>>['regions'] = {};
    for (const r of this.regions()) {
      const s = r.stats;
      const lookups = s.l1Hits + s.l2Hits + s.misses + s.staleServed;
      const entries: Record<string, number> = {};
      const bytes: Record<string, number> = {};
      for (const t of r.tiers()) {
        entries[t.tier] = t.entries;
        bytes[t.tier] = t.bytes;
      }
      regions[r.name] = {
        requests: {
          l1Hits: s.l1Hits,
          l2Hits: s.l2Hits,
          misses: s.misses,
          staleServed: s.staleServed,
          originFetches: s.originFetches,
          originErrors: s.loadErrors,
          staleSetsRefused: s.staleSetsRefused,
          negativeHits: s.negativeHits,
          revalidations: s.revalidations,
          invalidationsApplied: s.invalidationsApplied,
          flushes: s.flushes,
          l1Evictions: s.l1Evictions,
          l2Evictions: s.l2Evictions,
        },
        hitRatio: lookups === 0 ? null : (s.l1Hits + s.l2Hits) / lookups,
        latencyMs: this.recentLatency.get(r.name)?.percentiles() ?? emptyPercentiles(),
        invalidationLagMs: this.recentLag.get(r.name)?.percentiles() ?? emptyPercentiles(),
        entries,
        bytes,
      };
    }
    return { regions };
  }
}

/** One node's figures in a form that adds up across nodes: counters, and sketches for percentiles. */
export interface NodeMetrics {
  regions: Record<string, NodeRegionMetrics>;
}

export interface NodeRegionMetrics {
  requests: Record<string, number>;
  entries: Record<string, number>;
  bytes: Record<string, number>;
  /** The recent window of each, in ms; `count` of each is everything observed since the start. */
  latencyMs: { sketch: SketchJson; count: number };
  invalidationLagMs: { sketch: SketchJson; count: number };
}

export function emptyPercentiles(): Percentiles {
  return { count: 0, p50: null, p90: null, p95: null, p99: null };
}

function windowFor(windows: Map<string, RecentWindow>, region: string): RecentWindow {
  let window = windows.get(region);
  if (!window) windows.set(region, (window = new RecentWindow()));
  return window;
}
