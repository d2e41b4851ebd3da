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
  /** Tags whose list views the reads visit now and then (none when absent). */
  tags?: string[];
  /** Fraction of reads that read a tag's list view rather than an article (default 0.01 when `tags` are given). */
  listRatio?: number;
  clock: Clock;
  onError?: (error: unknown) => void;
}

/**
 * Zipf-distributed reads through random regions, and occasional writes at the origin, over real
 * HTTP, so metrics, lag and hit ratios move on the dashboard. Now and then a read is a tag's
 * list view, which every write to an article of the tag drops: few, so the hit ratio stays the
 * articles'.
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
      const tags = options.tags ?? [];
      const list = tags.length > 0 && Math.random() < (options.listRatio ?? 0.01);
      const path = list ? `content?tag=${encodeURIComponent(tags[Math.floor(Math.random() * tags.length)]!)}` : `content/${id}`;
      const response = await fetch(`${options.baseUrl}/edge/${region}/${path}`);
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
