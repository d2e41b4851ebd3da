import { describe, expect, it } from 'vitest';
import { ClusterProgress } from '../../packages/freshcache-server/src/cli/commands/cluster.js';
import type { RebalanceProgress } from '../../packages/freshcache-server/src/topology/redis-cluster-admin.js';

function stream(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, chunks, write: (text: string) => chunks.push(text) };
}

const base: RebalanceProgress = { operation: 'add-node', node: '127.0.0.1:7003', phase: 'joining', movedSlots: 0, plannedSlots: 100, moves: [], startedAt: 0, finishedAt: null, error: null };
const move = { from: '127.0.0.1:7000', to: '127.0.0.1:7003', slots: 100 };

/** Joining, then redis-cli announces a move of 100 slots, then moves them one by one, then done. */
function run(progress: ClusterProgress) {
  progress.update(base);
  progress.update({ ...base, phase: 'moving' });
  progress.update({ ...base, phase: 'moving', moves: [move] });
  for (let moved = 1; moved <= 100; moved++) progress.update({ ...base, phase: 'moving', moves: [move], movedSlots: moved });
  progress.update({ ...base, phase: 'done', moves: [move], movedSlots: 100 });
  progress.done();
}

describe('freshcache cluster progress', () => {
  it('prints a plain line per phase, per announced move and per tenth of the slots when not on a terminal', () => {
    const out = stream(false);
    run(new ClusterProgress(out));
    expect(out.chunks).toEqual([
      'joining: 0 / 100 slots\n',
      'moving: 0 / 100 slots\n',
      'moving 100 slots from 127.0.0.1:7000 to 127.0.0.1:7003\n',
      ...Array.from({ length: 10 }, (_, i) => `moving: ${(i + 1) * 10} / 100 slots\n`),
      'done: 100 / 100 slots\n',
    ]);
  });

  it('on a terminal, redraws one line with a bar and the current move, and ends it', () => {
    const out = stream(true);
    run(new ClusterProgress(out));
    expect(out.chunks.every((chunk, i) => i === out.chunks.length - 1 || chunk.startsWith('\r\x1b[K['))).toBe(true);
    expect(out.chunks.find((c) => c.includes(' 50 / 100 slots'))).toBe(`\r\x1b[K[${'#'.repeat(15)}${'.'.repeat(15)}] 50 / 100 slots  127.0.0.1:7000 → 127.0.0.1:7003`);
    expect(out.chunks.at(-1)).toBe('\n');
  });
});
