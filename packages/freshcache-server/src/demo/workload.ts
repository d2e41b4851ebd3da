import type { Clock } from 'freshcache';
import { zipfSampler } from '../tools/zipf.js';

export interface WorkloadOptions {
  baseUrl: string;
  regions: string[];
  ids: number[];
  /** Operations per second. */
  rate: number;
  /** Fraction of operations that are writes (content updates). */
  writeRatio: number;
  clock: Clock;
  onError?: (error: unknown) => void;
}

/**
 * Zipf-distributed reads through random regions, and occasional writes at the origin, over real
 * HTTP, so metrics, lag and hit ratios move on the dashboard.
 */
export function startWorkload(options: WorkloadOptions): { stop(): void; counts: { reads: number; writes: number; errors: number } } {
  const pick = zipfSampler(options.ids.length);
  const counts = { reads: 0, writes: 0, errors: 0 };
  const tickMs = 50;
  const perTick = Math.max(1, Math.round((options.rate * tickMs) / 1000));
  const one = async () => {
    const id = options.ids[pick() - 1]!;
    if (Math.random() < options.writeRatio) {
      counts.writes++;
      const response = await fetch(`${options.baseUrl}/api/content/${id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ body: `Edited by the workload at ${new Date(options.clock.now()).toISOString()}` }),
      });
      if (!response.ok) counts.errors++;
      await response.arrayBuffer();
    } else {
      counts.reads++;
      const region = options.regions[Math.floor(Math.random() * options.regions.length)]!;
      const response = await fetch(`${options.baseUrl}/edge/${region}/content/${id}`);
      if (!response.ok) counts.errors++;
      await response.arrayBuffer();
    }
  };
  const timer = options.clock.setInterval(() => {
    for (let i = 0; i < perTick; i++) {
      one().catch((error: unknown) => {
        counts.errors++;
        options.onError?.(error);
      });
    }
  }, tickMs);
  return { stop: () => timer.cancel(), counts };
}
