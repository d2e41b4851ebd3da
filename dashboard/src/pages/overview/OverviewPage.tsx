import { useCallback, useId, useState } from 'react';
import type { HistoryWindow } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Panel } from '../../components/Panel';
import { useApi, useAsync } from '../../lib/api-context';
import { formatMs, formatPercent, formatRate } from '../../lib/format';
import { useInfo } from '../../lib/info-context';
import { HistoryChart } from './HistoryChart';
import type { ChartMetric } from './HistoryChart';
import { hasActivity, regionsOf } from './history-series';
import { orderRegions } from '../../lib/regions';
import { RegionStats } from './RegionStats';
import { ToggleGroup } from '../../components/ToggleGroup';
import { usePolling } from '../../lib/usePolling';
import './overview.css';

const WINDOWS: { value: HistoryWindow; label: string }[] = [
  { value: '1m', label: '1 min' },
  { value: '5m', label: '5 min' },
  { value: '1h', label: '1 h' },
];

/** The server steps its history every second, and every 10 s for the hour: no point asking more often. */
const REFRESH_MS: Record<HistoryWindow, number> = { '1m': 2_000, '5m': 2_000, '1h': 10_000 };

/** A y axis tick: three significant digits, so sub-millisecond latencies still read. */
const short = (value: number) => String(Number(value.toPrecision(3)));

const CHARTS: {
  title: string;
  metrics: readonly [ChartMetric, ...ChartMetric[]];
  unit: string;
  tick: (value: number) => string;
  format: (value: number) => string;
  domain?: [number, number];
  emptyText: string;
}[] = [
  {
    title: 'Hit ratio',
    metrics: [{ metric: 'hitRatio', label: '' }],
    unit: '%',
    tick: (ratio) => String(Math.round(ratio * 100)),
    format: formatPercent,
    domain: [0, 1],
    emptyText: 'No reads in this window.',
  },
  {
    title: 'Latency',
    metrics: [
      { metric: 'latencyP50', label: 'p50' },
      { metric: 'latencyP95', label: 'p95' },
      { metric: 'latencyP99', label: 'p99' },
    ],
    unit: 'ms',
    tick: short,
    format: formatMs,
    emptyText: 'No reads in this window.',
  },
  {
    title: 'Origin load',
    metrics: [{ metric: 'originFetchesPerSec', label: '' }],
    unit: 'fetches/s',
    tick: short,
    format: formatRate,
    emptyText: 'No reads in this window.',
  },
  {
    title: 'Stale reads',
    metrics: [{ metric: 'staleReadsPerSec', label: '' }],
    unit: 'reads/s',
    tick: short,
    format: formatRate,
    emptyText: 'No reads in this window.',
  },
  {
    title: 'Invalidation lag',
    metrics: [
      { metric: 'lagP50', label: 'p50' },
      { metric: 'lagP99', label: 'p99' },
    ],
    unit: 'ms',
    tick: short,
    format: formatMs,
    emptyText: 'No invalidation applied in this window.',
  },
];

/** Per region: the metrics now, and charts of the last minute, five minutes or hour, kept live by polling. */
export function OverviewPage() {
  const api = useApi();
  const info = useInfo();
  const historyTitleId = useId();
  const [span, setSpan] = useState<HistoryWindow>('1m');
  const history = useAsync(useCallback(() => api.metricsHistory(span), [api, span]));
  const snapshot = useAsync(useCallback(() => api.metrics(), [api]));
  // Each polled apart: a slow history does not hold back the snapshot.
  usePolling(history.reload, REFRESH_MS[span]);
  usePolling(snapshot.reload, REFRESH_MS[span]);

  const spanLabel = WINDOWS.find((w) => w.value === span)!.label;
  const points = history.data?.points ?? [];
  const chartRegions = orderRegions(regionsOf(points), info?.regions);

  return (
    <>
      <h1>Overview</h1>

      <Panel title="Now">
        <ErrorMessage error={snapshot.error} />
        {snapshot.data ? (
          <RegionStats snapshot={snapshot.data} regions={orderRegions(Object.keys(snapshot.data.regions), info?.regions)} />
        ) : (
          snapshot.loading && <p className="muted">Loading…</p>
        )}
      </Panel>

      <section className="overview-history" aria-labelledby={historyTitleId}>
        <header className="panel-header">
          <h2 id={historyTitleId}>Last {spanLabel}</h2>
          <ToggleGroup label="Window" options={WINDOWS} value={span} onChange={setSpan} />
        </header>
        <ErrorMessage error={history.error} />
        {!history.data ? (
          history.loading && <p className="muted">Loading…</p>
        ) : !hasActivity(points) ? (
          <p className="panel empty-history" role="status">
            No reads yet in the last {spanLabel}. The charts fill in as the regions serve reads: read content through an edge on
            the Content page, or start the demo with a workload (<code>npm start -- --workload</code>).
          </p>
        ) : (
          <div className="grid">
            {CHARTS.map((chart) => (
              <HistoryChart key={chart.title} {...chart} points={points} regions={chartRegions} />
            ))}
          </div>
        )}
      </section>
    </>
  );
}
