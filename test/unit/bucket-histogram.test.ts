import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BucketHistogram } from '../../packages/freshcache-server/src/observability/bucket-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const NAME = 'test_duration_seconds';
const HELP = 'Test latency.';

/** The same observations into prom-client's Histogram and into a BucketHistogram, each in a registry of its own. */
function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({ name: NAME, help: HELP, labelNames: ['region', 'cache'], buckets: BUCKETS, registers: [theirs] });
  const histogram = new BucketHistogram(NAME, HELP, ['region', 'cache'], BUCKETS, [ours]);
  const observe = (labels: { region: string; cache: string }, value: number) => {
    reference.observe(labels, value);
    histogram.series(labels).observe(value);
  };
  return { theirs, ours, histogram, observe };
}

describe('BucketHistogram', () => {
  it('is scraped and exported exactly as prom-client\'s Histogram with the same buckets and observations', async () => {
    const { theirs, ours, observe } = both();
    // On a bound (counts in that bucket), between bounds, below the first, above the last (+Inf only), in two series.
    for (const value of [0.001, 0.0005, 0.05, 0.01, 0.7, 3, 1]) observe({ region: 'us-east', cache: 'HIT' }, value);
    for (const value of [0.002, 0.2]) observe({ region: 'eu-west', cache: 'MISS' }, value);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('forgets every series on reset, as the registry resets its metrics', async () => {
    const { theirs, ours, observe } = both();
    observe({ region: 'us-east', cache: 'HIT' }, 0.003);
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    observe({ region: 'us-east', cache: 'HIT' }, 0.004);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('keeps one series per label values, whatever object they come in', () => {
    const { histogram } = both();
    expect(histogram.series({ region: 'a', cache: 'HIT' })).toBe(histogram.series({ cache: 'HIT', region: 'a' }));
    expect(histogram.series({ region: 'a', cache: 'HIT' })).not.toBe(histogram.series({ region: 'a', cache: 'MISS' }));
  });

  it('refuses a value that is not a finite number, as prom-client does', () => {
    const { histogram } = both();
    expect(() => histogram.series({ region: 'a', cache: 'HIT' }).observe(Number.NaN)).toThrow(TypeError);
  });
});
