import type { Metric, Registry } from 'prom-client';

/** One labelled series, resolved once and kept by the caller: observing it is a bucket search and three additions. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is above every bound (+Inf only). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly upperBounds: readonly number[],
  ) {
    this.counts = new Float64Array(upperBounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    let i = 0;
    while (i < this.upperBounds.length && value > this.upperBounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
  /** prom-client's buckets carry `exemplar: null` when exemplars are off. */
  exemplar?: null;
}

/**
 * A Prometheus histogram for the edge hit path. prom-client's Histogram validates and hashes the
 * labels on every observation, and allocates as it does: with two timings that was 15 % of an
 * edge hit's CPU time (bench/README.md). Here a series is resolved once (`series(labels)`) and
 * the hot path keeps it. Registered in a prom-client Registry, it is scraped, reset and exported
 * exactly as prom-client's Histogram with the same buckets would be (test/unit/bucket-histogram.test.ts).
 */
export class BucketHistogram<L extends string> {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly all = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly upperBounds: readonly number[],
    registers: Registry[],
  ) {
    // The cast: a Registry only reads name, help, type, aggregator, get(), getForPromString() and reset().
    for (const registry of registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these label values, made on first use. */
  series(labels: Readonly<Record<L, string>>): HistogramSeries {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let found = this.all.get(key);
    if (!found) this.all.set(key, (found = new HistogramSeries({ ...labels }, this.upperBounds)));
    return found;
  }

  reset(): void {
    this.all.clear();
  }

  /** For the text exposition: prom-client's own layout (cumulative buckets, +Inf, sum, count per series). */
  getForPromString() {
    const values: ExportedValue[] = [];
    for (const series of this.all.values()) {
      const sharedLabels = { ...series.labels };
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += series.counts[i]!;
        values.push({ labels: { le }, sharedLabels, value: cumulative, metricName: `${this.name}_bucket`, exemplar: null });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels, value: series.count, metricName: `${this.name}_bucket`, exemplar: null },
        { labels: {}, sharedLabels, value: series.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels, value: series.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** For JSON: the series' labels merged into each value's, as prom-client's `get()` gives them. */
  get() {
    const data = this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...value }) => ({ ...value, labels: { ...labels, ...sharedLabels } })),
    };
  }
}
