/**
 * The nearest-rank percentile (`p` in 0..1): a value that was actually measured, never an
 * interpolation between two. With 300 samples p99 is the 297th smallest, so the 3 slowest are above it.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}
