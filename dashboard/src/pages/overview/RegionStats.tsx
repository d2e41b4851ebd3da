import type { MetricsSnapshot, RegionMetrics } from '../../api/types';
import { formatMs, formatPercent } from '../../lib/format';
import { regionColor } from '../../lib/regions';

function tiles(metrics: RegionMetrics): { label: string; value: string }[] {
  return [
    { label: 'Hit ratio', value: formatPercent(metrics.hitRatio) },
    { label: 'Latency p50', value: formatMs(metrics.latencyMs.p50) },
    { label: 'Latency p95', value: formatMs(metrics.latencyMs.p95) },
    { label: 'Latency p99', value: formatMs(metrics.latencyMs.p99) },
    { label: 'Invalidation lag p50', value: formatMs(metrics.invalidationLagMs.p50) },
    { label: 'Invalidation lag p99', value: formatMs(metrics.invalidationLagMs.p99) },
    { label: 'Entries L1', value: String(metrics.entries.l1 ?? '—') },
    { label: 'Entries L2', value: String(metrics.entries.l2 ?? '—') },
  ];
}

/** The current snapshot (`GET /api/metrics`) as stat tiles, one block per region. */
export function RegionStats({ snapshot, regions }: { snapshot: MetricsSnapshot; regions: readonly string[] }) {
  return (
    <div className="grid">
      {regions.map((region) => {
        const metrics = snapshot.regions[region];
        if (!metrics) return null;
        return (
          <section key={region} className="region-stats" aria-label={`${region} now`}>
            <h3>
              <span className="swatch" style={{ background: regionColor(region) }} aria-hidden="true" />
              {region}
            </h3>
            <dl>
              {tiles(metrics).map((tile) => (
                <div key={tile.label} className="stat">
                  <dt className="label">{tile.label}</dt>
                  <dd className="value">{tile.value}</dd>
                </div>
              ))}
            </dl>
          </section>
        );
      })}
    </div>
  );
}
