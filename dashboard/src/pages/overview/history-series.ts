import type { HistoryPoint, HistoryRegionPoint } from '../../api/types';

/** A number the history gives per region and step. */
export type RegionMetric = keyof HistoryRegionPoint;

/** One step of one chart: a value per region, null where the step observed nothing. */
export interface ChartRow {
  t: number;
  values: Record<string, number | null>;
}

/** Every region named in the history, in the order first seen. */
export function regionsOf(points: readonly HistoryPoint[]): string[] {
  return [...new Set(points.flatMap((point) => Object.keys(point.regions)))];
}

export function toRows(points: readonly HistoryPoint[], metric: RegionMetric): ChartRow[] {
  return points.map((point) => ({
    t: point.t,
    values: Object.fromEntries(Object.entries(point.regions).map(([region, values]) => [region, values[metric]])),
  }));
}

/**
 * The region's most recent value. Percentiles are null in steps that observed nothing (no
 * invalidation applied in the last second is common), so this is the last step that had one.
 */
export function latestValue(rows: readonly ChartRow[], region: string): number | null {
  for (let i = rows.length - 1; i >= 0; i--) {
    const value = rows[i]!.values[region];
    if (value !== null && value !== undefined) return value;
  }
  return null;
}

/** Whether any region served a read or applied an invalidation in the window. */
export function hasActivity(points: readonly HistoryPoint[]): boolean {
  return points.some((point) => Object.values(point.regions).some((region) => region.requestsPerSec > 0 || region.lagP50 !== null));
}
