import type { CacheStats, Clock, Timer } from 'freshcache';
import { QuantileSketch } from './quantile-sketch.js';
import type { SketchJson } from './quantile-sketch.js';
import { RecentWindow } from './recent-window.js';

export type HistoryWindow = '1m' | '5m' | '1h';

export const HISTORY_WINDOWS: readonly HistoryWindow[] = ['1m', '5m', '1h'];

/** One region over one step: rates per second, percentiles in ms (null: nothing observed in the step). */
export interface HistoryRegionPoint {
  requestsPerSec: number;
  hitRatio: number | null;
  latencyP50: number | null;
  latencyP95: number | null;
  latencyP99: number | null;
  originFetchesPerSec: number;
  staleReadsPerSec: number;
  lagP50: number | null;
  lagP99: number | null;
}

export interface HistoryPoint {
  /** End of the step, ms since the epoch. */
  t: number;
  regions: Record<string, HistoryRegionPoint>;
}

export interface HistoryAnswer {
  window: HistoryWindow;
  stepMs: number;
  points: HistoryPoint[];
}

/** One region over one step of one node, in a form that adds up across nodes (`/api/metrics/history/node`). */
export interface NodeHistoryRegion {
  seconds: number;
  lookups: number;
  hits: number;
  stale: number;
  originFetches: number;
  /** The step's latencies and lags, in ms. */
  latency: SketchJson;
  lag: SketchJson;
}

export interface NodeHistoryPoint {
  t: number;
  regions: Record<string, NodeHistoryRegion>;
}

export interface NodeHistoryAnswer {
  window: HistoryWindow;
  stepMs: number;
  points: NodeHistoryPoint[];
}

interface Counts {
  lookups: number;
  hits: number;
  stale: number;
  originFetches: number;
}

/**
 * One resolution of the history: a ring of points, and windows of the latencies and lags
 * observed since its last step, so each point's percentiles are of that step alone (percentiles
 * of shorter steps cannot be merged into a longer one).
 */
class Series {
  readonly points: HistoryPoint[] = [];
  /** The same steps, as figures that add up across nodes. */
  readonly mergeable: NodeHistoryPoint[] = [];
  private readonly latency = new Map<string, RecentWindow>();
  private readonly lag = new Map<string, RecentWindow>();
  private readonly lastCounts = new Map<string, Counts>();
  private lastAt: number;

  constructor(
    readonly stepMs: number,
    private readonly capacity: number,
    startedAt: number,
  ) {
    this.lastAt = startedAt;
  }

  observeLatency(region: string, seconds: number): void {
    windowFor(this.latency, region).observe(seconds);
  }

  observeLag(region: string, seconds: number): void {
    windowFor(this.lag, region).observe(seconds);
  }

  step(now: number, regions: { name: string; stats: CacheStats }[]): void {
    const seconds = Math.max(1, now - this.lastAt) / 1000;
    this.lastAt = now;
    const point: HistoryPoint = { t: now, regions: {} };
    const mergeable: NodeHistoryPoint = { t: now, regions: {} };
    for (const { name, stats } of regions) {
      const counts: Counts = {
        lookups: stats.l1Hits + stats.l2Hits + stats.misses + stats.staleServed,
        hits: stats.l1Hits + stats.l2Hits,
        stale: stats.staleServed,
        originFetches: stats.originFetches,
      };
      const last = this.lastCounts.get(name) ?? counts;
      this.lastCounts.set(name, counts);
      const lookups = counts.lookups - last.lookups;
      mergeable.regions[name] = {
        seconds,
        lookups,
        hits: counts.hits - last.hits,
        stale: counts.stale - last.stale,
        originFetches: counts.originFetches - last.originFetches,
        latency: (this.latency.get(name)?.sketch() ?? new QuantileSketch()).toJSON(),
        lag: (this.lag.get(name)?.sketch() ?? new QuantileSketch()).toJSON(),
      };
      const latency = takePercentiles(this.latency.get(name));
      const lag = takePercentiles(this.lag.get(name));
      point.regions[name] = {
        requestsPerSec: round(lookups / seconds),
        hitRatio: lookups === 0 ? null : round((counts.hits - last.hits) / lookups),
        latencyP50: latency?.p50 ?? null,
        latencyP95: latency?.p95 ?? null,
        latencyP99: latency?.p99 ?? null,
        originFetchesPerSec: round((counts.originFetches - last.originFetches) / seconds),
        staleReadsPerSec: round((counts.stale - last.stale) / seconds),
        lagP50: lag?.p50 ?? null,
        lagP99: lag?.p99 ?? null,
      };
    }
    this.points.push(point);
    this.mergeable.push(mergeable);
    if (this.points.length > this.capacity) this.points.splice(0, this.points.length - this.capacity);
    if (this.mergeable.length > this.capacity) this.mergeable.splice(0, this.mergeable.length - this.capacity);
  }
}

export interface MetricsHistoryOptions {
  clock: Clock;
  regions: () => { name: string; stats: CacheStats }[];
}

/**
 * What the dashboard's Overview charts: per region and per step, request rate, hit ratio, edge
 * latency p50/p95/p99, origin load, stale reads and invalidation lag, for the last minute, five
 * minutes and hour. Kept in the process (a point a second for 5 min, a point per 10 s for 1 h:
 * 660 points per region), so opening the dashboard shows the recent past at once. Rates are
 * differences of the engine's counters, read once per step: nothing is added to the read path
 * but one array write per observation for each resolution.
 */
export class MetricsHistory {
  private readonly fine: Series;
  private readonly coarse: Series;
  private timers: Timer[] = [];

  constructor(private readonly options: MetricsHistoryOptions) {
    const now = options.clock.now();
    this.fine = new Series(1_000, 300, now);
    this.coarse = new Series(10_000, 360, now);
  }

  start(): void {
    if (this.timers.length > 0) return;
    const { clock, regions } = this.options;
    // The first step of each series sets the counters' baseline.
    for (const series of [this.fine, this.coarse]) {
      this.timers.push(clock.setInterval(() => series.step(clock.now(), regions()), series.stepMs));
    }
  }

  stop(): void {
    for (const timer of this.timers) timer.cancel();
    this.timers = [];
  }

  observeLatency(region: string, seconds: number): void {
    this.fine.observeLatency(region, seconds);
    this.coarse.observeLatency(region, seconds);
  }

  observeLag(region: string, seconds: number): void {
    this.fine.observeLag(region, seconds);
    this.coarse.observeLag(region, seconds);
  }

  window(window: HistoryWindow): HistoryAnswer {
    const series = window === '1h' ? this.coarse : this.fine;
    return { window, stepMs: series.stepMs, points: series.points.slice(-stepsOf(window)) };
  }

  /** The window's steps as figures that add up across nodes: what a control process merges. */
  nodeWindow(window: HistoryWindow): NodeHistoryAnswer {
    const series = window === '1h' ? this.coarse : this.fine;
    return { window, stepMs: series.stepMs, points: series.mergeable.slice(-stepsOf(window)) };
  }
}

function stepsOf(window: HistoryWindow): number {
  return window === '1m' ? 60 : window === '5m' ? 300 : 360;
}

/**
 * The fleet's history from each node's: steps that end within the same step interval are one
 * point; rates are the nodes' rates summed, the hit ratio is of the summed reads, and percentiles
 * come from the nodes' sketches of the step merged, never averaged.
 */
export function mergeHistory(window: HistoryWindow, stepMs: number, nodes: readonly NodeHistoryAnswer[]): HistoryAnswer {
  const slots = new Map<number, Map<string, { rate: number; lookups: number; hits: number; origin: number; stale: number; latency: QuantileSketch; lag: QuantileSketch }>>();
  for (const node of nodes) {
    for (const point of node.points) {
      const slot = Math.round(point.t / stepMs) * stepMs;
      const regions = slots.get(slot) ?? new Map();
      slots.set(slot, regions);
      for (const [name, r] of Object.entries(point.regions)) {
        let into = regions.get(name);
        if (!into) regions.set(name, (into = { rate: 0, lookups: 0, hits: 0, origin: 0, stale: 0, latency: new QuantileSketch(r.latency.alpha), lag: new QuantileSketch(r.lag.alpha) }));
        const seconds = Math.max(r.seconds, 0.001);
        into.rate += r.lookups / seconds;
        into.lookups += r.lookups;
        into.hits += r.hits;
        into.origin += r.originFetches / seconds;
        into.stale += r.stale / seconds;
        into.latency.merge(r.latency);
        into.lag.merge(r.lag);
      }
    }
  }
  const at = (sketch: QuantileSketch, q: number) => {
    const value = sketch.quantile(q);
    return value === null ? null : round(value);
  };
  const points: HistoryPoint[] = [...slots.keys()]
    .sort((a, b) => a - b)
    .slice(-stepsOf(window))
    .map((t) => {
      const regions: Record<string, HistoryRegionPoint> = {};
      for (const [name, r] of slots.get(t)!) {
        regions[name] = {
          requestsPerSec: round(r.rate),
          hitRatio: r.lookups === 0 ? null : round(r.hits / r.lookups),
          latencyP50: at(r.latency, 0.5),
          latencyP95: at(r.latency, 0.95),
          latencyP99: at(r.latency, 0.99),
          originFetchesPerSec: round(r.origin),
          staleReadsPerSec: round(r.stale),
          lagP50: at(r.lag, 0.5),
          lagP99: at(r.lag, 0.99),
        };
      }
      return { t, regions };
    });
  return { window, stepMs, points };
}

function windowFor(windows: Map<string, RecentWindow>, region: string): RecentWindow {
  let window = windows.get(region);
  if (!window) windows.set(region, (window = new RecentWindow(4096)));
  return window;
}

/** Percentiles (ms) of what was observed since the last call, and a fresh start for the next step. */
function takePercentiles(window: RecentWindow | undefined) {
  if (!window || window.size === 0) return undefined;
  const percentiles = window.percentiles();
  window.reset();
  return percentiles;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
