import { useId, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { HistoryPoint } from '../../api/types';
import { formatClock } from '../../lib/format';
import { latestValue, toRows } from './history-series';
import type { ChartRow, RegionMetric } from './history-series';
import { regionColor } from '../../lib/regions';
import { ToggleGroup } from '../../components/ToggleGroup';

export interface ChartMetric {
  metric: RegionMetric;
  /** Names the metric among several ("p95"); empty when the chart shows one. */
  label: string;
}

const AXIS = { stroke: 'var(--border)', tick: { fill: 'var(--muted)', fontSize: 12 } };

/**
 * One metric of the history as a line per region, in the region's colour, over clock time. The
 * figure is named by its title, and its caption gives each region's latest value as the text
 * alternative. With several metrics (percentiles) a switch picks the one shown, so a chart never
 * holds more lines than there are regions.
 */
export function HistoryChart({
  title,
  metrics,
  points,
  regions,
  unit,
  tick,
  format,
  domain,
  emptyText,
}: {
  title: string;
  metrics: readonly [ChartMetric, ...ChartMetric[]];
  points: readonly HistoryPoint[];
  /** The lines, in legend order. */
  regions: readonly string[];
  /** The y axis' unit ("ms", "%", "/s"). */
  unit: string;
  /** A y axis tick, without the unit. */
  tick: (value: number) => string;
  /** A value with its unit, for the caption and the tooltip. */
  format: (value: number) => string;
  domain?: [number, number];
  /** Shown instead of a chart when no step has a value (no invalidation in the window, say). */
  emptyText: string;
}) {
  const titleId = useId();
  const summaryId = useId();
  const [selected, setSelected] = useState<RegionMetric>(metrics[0].metric);
  const shown = metrics.find((m) => m.metric === selected) ?? metrics[0];
  const rows = toRows(points, shown.metric);
  const latest = regions.map((region) => ({ region, value: latestValue(rows, region) }));
  const hasData = latest.some(({ value }) => value !== null);
  const heading = shown.label === '' ? title : `${title} ${shown.label}`;

  return (
    <figure className="panel history-chart" aria-labelledby={titleId} aria-describedby={summaryId}>
      <figcaption>
        <h3 id={titleId}>{heading}</h3>
        <p id={summaryId} className="muted">
          {hasData ? `Latest: ${latest.map(({ region, value }) => `${region} ${value === null ? '—' : format(value)}`).join(', ')}` : emptyText}
        </p>
      </figcaption>
      {metrics.length > 1 && (
        <ToggleGroup
          label={`${title} percentile`}
          options={metrics.map((m) => ({ value: m.metric, label: m.label }))}
          value={shown.metric}
          onChange={setSelected}
        />
      )}
      {hasData && (
        <div className="chart-area">
          <ResponsiveContainer width="100%" height="100%">
            <LineChart data={rows} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
              <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" />
              <XAxis {...AXIS} dataKey="t" type="number" scale="time" domain={['dataMin', 'dataMax']} tickFormatter={(t: number) => formatClock(t)} minTickGap={40} />
              <YAxis
                {...AXIS}
                width={52}
                domain={domain ?? [0, 'auto']}
                tickFormatter={tick}
                label={{ value: unit, angle: -90, position: 'insideLeft', fill: 'var(--muted)', fontSize: 12 }}
              />
              <Tooltip
                labelFormatter={(t) => formatClock(Number(t))}
                formatter={(value) => (typeof value === 'number' ? format(value) : '—')}
                contentStyle={{ background: 'var(--panel-2)', border: '1px solid var(--border)' }}
                // In the regions' order, as the caption and legend list them (recharts sorts by name).
                itemSorter={(item) => regions.indexOf(String(item.name))}
              />
              <Legend itemSorter={null} />
              {regions.map((region) => (
                <Line
                  key={region}
                  name={region}
                  dataKey={(row: ChartRow) => row.values[region] ?? null}
                  stroke={regionColor(region)}
                  strokeWidth={2}
                  dot={false}
                  // Redrawn every few seconds: an animation on each refresh only distracts.
                  isAnimationActive={false}
                />
              ))}
            </LineChart>
          </ResponsiveContainer>
        </div>
      )}
    </figure>
  );
}
