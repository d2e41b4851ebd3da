import { describe, expect, it } from 'vitest';
import { LoadProgress } from '../../packages/freshcache-server/src/tools/load/load-progress.js';
import { LoadStats } from '../../packages/freshcache-server/src/tools/load/load-stats.js';

function stream(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, chunks, write: (text: string) => chunks.push(text) };
}

/** One interval of 1 s: 200 reads in us-east (180 hits, 2 failed), 10 writes. */
function interval() {
  const stats = new LoadStats(['us-east']);
  const east = stats.region('us-east').interval;
  for (let i = 0; i < 198; i++) east.latencyUs.recordValue(1_000 + i);
  east.ok = 198;
  east.hits = 180;
  east.misses = 18;
  east.fail('503');
  east.fail('503');
  stats.writes.interval.ok = 10;
  return stats;
}

describe('load progress', () => {
  it('prints one plain line per interval when not on a terminal', () => {
    const out = stream(false);
    const progress = new LoadProgress(out, 60_000);
    progress.update(interval(), 1_000, 1_000);
    progress.update(interval(), 2_000, 1_000);
    expect(out.chunks).toHaveLength(2);
    expect(out.chunks[1]).toMatch(/^2 s \/ 60 s: reads 200\/s; us-east 200\/s p50 1\.\d+ ms p99 1\.\d+ ms hit 90\.9 % err 2; writes 10\/s failed 0\n$/);
    expect(out.chunks.join('')).not.toContain('\x1b[');
  });

  it('on a terminal, redraws one block in place each interval and clears it at the end', () => {
    const out = stream(true);
    const progress = new LoadProgress(out, 60_000);
    progress.update(interval(), 1_000, 1_000);
    const first = out.chunks[0]!;
    expect(first).not.toContain('\x1b[');
    expect(first).toMatch(/us-east\s+200\s+1\.\d+ ms\s+1\.\d+ ms\s+90\.9 %\s+2/);
    const lines = first.trimEnd().split('\n').length;
    progress.update(interval(), 2_000, 1_000);
    // Back up over the block just drawn, clear to the end of the screen, draw the next one.
    expect(out.chunks[1]!.startsWith(`\x1b[${lines}F\x1b[J`)).toBe(true);
    progress.done();
    expect(out.chunks[2]).toBe(`\x1b[${lines}F\x1b[J`);
  });
});
