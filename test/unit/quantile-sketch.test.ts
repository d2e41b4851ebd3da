import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeNodeMetrics } from '../../packages/freshcache-server/src/observability/fleet-metrics.js';
import { mergeHistory } from '../../packages/freshcache-server/src/observability/metrics-history.js';
import type { NodeHistoryPoint } from '../../packages/freshcache-server/src/observability/metrics-history.js';
import type { NodeMetrics } from '../../packages/freshcache-server/src/observability/metrics.js';
import { QuantileSketch } from '../../packages/freshcache-server/src/observability/quantile-sketch.js';

/** The exact quantile the sketch aims at: the value of rank ceil(q × n) in sorted order. */
function exact(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

const positive = fc.double({ min: 0.001, max: 1e6, noNaN: true });

describe('QuantileSketch', () => {
  it('answers every quantile within its relative accuracy (1 %)', () => {
    fc.assert(
      fc.property(fc.array(positive, { minLength: 1, maxLength: 300 }), fc.constantFrom(0.5, 0.9, 0.95, 0.99), (values, q) => {
        const sketch = new QuantileSketch(0.01);
        for (const value of values) sketch.add(value);
        const truth = exact(values, q);
        expect(Math.abs(sketch.quantile(q)! - truth)).toBeLessThanOrEqual(truth * 0.01 + 1e-9);
      }),
    );
  });

  it('merged through JSON, two sketches answer as one sketch of all the values would', () => {
    fc.assert(
      fc.property(fc.array(positive, { maxLength: 200 }), fc.array(positive, { maxLength: 200 }), (a, b) => {
        const left = new QuantileSketch();
        const right = new QuantileSketch();
        const whole = new QuantileSketch();
        for (const value of a) {
          left.add(value);
          whole.add(value);
        }
        for (const value of b) {
          right.add(value);
          whole.add(value);
        }
        const merged = QuantileSketch.from(JSON.parse(JSON.stringify(left)));
        merged.merge(JSON.parse(JSON.stringify(right)));
        for (const q of [0.5, 0.9, 0.99]) expect(merged.quantile(q)).toBe(whole.quantile(q));
      }),
    );
  });

  it('counts zeros (a lag of 0 ms) and answers null when empty', () => {
    const sketch = new QuantileSketch();
    expect(sketch.quantile(0.5)).toBeNull();
    sketch.add(0, 9);
    sketch.add(50);
    expect(sketch.quantile(0.5)).toBe(0);
    expect(sketch.quantile(0.99)).toBeCloseTo(50, 0);
  });
});

describe('the fleet metrics', () => {
  const node = (latency: number, hits: number, misses: number): NodeMetrics => {
    const sketch = new QuantileSketch();
    sketch.add(latency, 1000);
    return {
      regions: {
        'us-east': {
          requests: { l1Hits: hits, l2Hits: 0, misses, staleServed: 0 },
          entries: { l1: 10 },
          bytes: { l1: 1000 },
          latencyMs: { sketch: sketch.toJSON(), count: 1000 },
          invalidationLagMs: { sketch: new QuantileSketch().toJSON(), count: 0 },
        },
      },
    };
  };

  it('sums counters and merges percentiles from the nodes\' sketches, never averaging them', () => {
    // One fast node and one slow one: the fleet's p99 is the slow node's, its p50 the fast one's; an average would say 50.5 for both.
    const { 'us-east': region } = mergeNodeMetrics([node(1, 90, 10), node(100, 30, 70)]);
    expect(region!.requests).toMatchObject({ l1Hits: 120, misses: 80 });
    expect(region!.hitRatio).toBe(0.6);
    expect(region!.entries).toEqual({ l1: 20 });
    expect(region!.latencyMs.count).toBe(2000);
    expect(region!.latencyMs.p50).toBeCloseTo(1, 1);
    expect(region!.latencyMs.p99).toBeGreaterThan(99);
    expect(region!.latencyMs.p99).toBeLessThan(101);
    expect(region!.invalidationLagMs).toEqual({ count: 0, p50: null, p90: null, p95: null, p99: null });
  });
});

describe('the fleet history', () => {
  const step = (t: number, lookups: number, hits: number, latency: number): NodeHistoryPoint => {
    const sketch = new QuantileSketch();
    sketch.add(latency, lookups);
    return { t, regions: { 'us-east': { seconds: 1, lookups, hits, stale: 0, originFetches: lookups - hits, latency: sketch.toJSON(), lag: new QuantileSketch().toJSON() } } };
  };

  it('puts the steps of every node that end in the same second into one point: rates summed, percentiles merged', () => {
    const fast = { window: '1m' as const, stepMs: 1_000, points: [step(10_010, 100, 90, 1), step(11_020, 100, 90, 1)] };
    const slow = { window: '1m' as const, stepMs: 1_000, points: [step(9_990, 100, 10, 100), step(11_000, 100, 10, 100)] };
    const { points } = mergeHistory('1m', 1_000, [fast, slow]);
    expect(points.map((p) => p.t)).toEqual([10_000, 11_000]);
    const region = points[1]!.regions['us-east']!;
    expect(region.requestsPerSec).toBe(200);
    expect(region.hitRatio).toBe(0.5);
    expect(region.originFetchesPerSec).toBe(100);
    expect(region.latencyP50).toBeCloseTo(1, 1);
    expect(region.latencyP99).toBeGreaterThan(99);
    expect(region.lagP99).toBeNull();
  });
});
