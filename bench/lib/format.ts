/** Formatting shared by the scenarios, so every table reads the same way. */

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

export function formatRatio(ratio: number): string {
  return `${(ratio * 100).toFixed(1)} %`;
}

export function formatMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** The "met" column: targets are reported, never asserted (no thresholds fail the run). */
export function verdict(met: boolean): string {
  return met ? '✅ met' : '❌ not met';
}
