import type { Cluster, Redis } from 'ioredis';
import type { ApplyMark, ApplyMarks } from '../../seams/apply-marks.js';
import { MARKS_KEPT } from '../../seams/apply-marks.js';
import { redisFailure } from './redis-unavailable.js';

/**
 * ApplyMarks on Redis: a sorted set of marks per node and region (score: position; member:
 * `position:at`) and a set of the node-and-region pairs (`node\nregion`). Every key carries the `{marks}` hash tag, so on a
 * Redis Cluster they share one slot and one script or pipeline reaches them all.
 */
export class RedisApplyMarks implements ApplyMarks {
  private readonly nodesKey: string;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly namespace = 'freshcache:',
    private readonly kept = MARKS_KEPT,
  ) {
    this.nodesKey = `${namespace}{marks}:nodes`;
  }

  async report(mark: ApplyMark): Promise<void> {
    const pair = `${mark.node}\n${mark.region}`;
    const key = this.marksKey(pair);
    try {
      await this.redis
        .multi()
        .sadd(this.nodesKey, pair)
        .zadd(key, mark.position, `${mark.position}:${mark.at}`)
        // Keeps the newest `kept` marks.
        .zremrangebyrank(key, 0, -this.kept - 1)
        .exec();
    } catch (error) {
      throw redisFailure('log_unavailable', 'reporting an apply mark', error);
    }
  }

  async appliedAt(position: number): Promise<{ node: string; region: string; at: number | null }[]> {
    try {
      const pairs = (await this.redis.smembers(this.nodesKey)).sort();
      if (pairs.length === 0) return [];
      const pipeline = this.redis.pipeline();
      for (const pair of pairs) pipeline.zrangebyscore(this.marksKey(pair), position, '+inf', 'LIMIT', 0, 1);
      const replies = (await pipeline.exec()) ?? [];
      return pairs.map((pair, i) => {
        const [node, region] = pair.split('\n') as [string, string];
        const [error, members] = replies[i] ?? [];
        const first = error ? undefined : (members as string[] | undefined)?.[0];
        return { node, region, at: first === undefined ? null : Number(first.slice(first.indexOf(':') + 1)) };
      });
    } catch (error) {
      throw redisFailure('log_unavailable', 'reading apply marks', error);
    }
  }

  async forget(node: string): Promise<void> {
    try {
      const pairs = (await this.redis.smembers(this.nodesKey)).filter((pair) => pair.startsWith(`${node}\n`));
      if (pairs.length === 0) return;
      await this.redis
        .multi()
        .srem(this.nodesKey, ...pairs)
        .del(...pairs.map((pair) => this.marksKey(pair)))
        .exec();
    } catch (error) {
      throw redisFailure('log_unavailable', 'forgetting a node\'s apply marks', error);
    }
  }

  async close(): Promise<void> {}

  private marksKey(pair: string): string {
    return `${this.namespace}{marks}:node:${pair}`;
  }
}
