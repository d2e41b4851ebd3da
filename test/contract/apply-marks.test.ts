import { describe, expect, it } from 'vitest';
import { MemoryApplyMarks } from '../../packages/freshcache/src/adapters/memory/memory-apply-marks.js';
import { RedisApplyMarks } from '../../packages/freshcache/src/adapters/redis/redis-apply-marks.js';
import { ApplyMarkReporter } from '../../packages/freshcache/src/engine/apply-mark-reporter.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { applyMarksContract } from '../../packages/freshcache/src/testing/apply-marks-contract.js';
import { redisClusterForFile } from '../testkit/redis-cluster.js';
import { redisForFile } from '../testkit/redis-server.js';

const redis = redisForFile();
let namespaces = 0;

applyMarksContract('MemoryApplyMarks', async (kept) => new MemoryApplyMarks(kept));
applyMarksContract('RedisApplyMarks (standalone)', async (kept) => new RedisApplyMarks(redis().client, `m${++namespaces}:`, kept));

describe('RedisApplyMarks on a Redis Cluster', () => {
  const cluster = redisClusterForFile();
  applyMarksContract('RedisApplyMarks (cluster)', async (kept) => new RedisApplyMarks(cluster().client, `c${++namespaces}:`, kept));
});

describe('ApplyMarkReporter', () => {
  it('writes at most one mark per region per interval: the first at once, then the newest position when the interval ends', async () => {
    const clock = new ManualClock();
    const marks = new MemoryApplyMarks();
    const written: number[] = [];
    const report = marks.report.bind(marks);
    marks.report = (mark) => {
      written.push(mark.position);
      return report(mark);
    };
    const reporter = new ApplyMarkReporter({ marks, node: 'n', clock, intervalMs: 100 });
    const start = clock.now();
    for (let position = 1; position <= 50; position++) {
      reporter.applied('us-east', position, clock.now());
      clock.advance(5);
    }
    // Event k is applied at (k - 1) × 5 ms: the first is written at once, then the newest at 100 and 200 ms.
    expect(written).toEqual([1, 20, 40]);
    clock.advance(100);
    expect(written).toEqual([1, 20, 40, 50]);
    // Event 30 was applied at 145 ms; the first mark at or above it is position 40's, applied at 195 ms.
    expect(await marks.appliedAt(30)).toEqual([{ node: 'n', region: 'us-east', at: start + 195 }]);
    reporter.applied('us-east', 51, clock.now());
    reporter.stop();
    expect(written.at(-1)).toBe(51);
  });
});
