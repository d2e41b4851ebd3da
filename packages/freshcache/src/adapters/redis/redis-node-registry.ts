import type { Cluster, Redis } from 'ioredis';
import type { Clock } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { NodeRecord, NodeRegistry, NodeRegistryTimings, NodeView } from '../../seams/node-registry.js';
import { NODE_REGISTRY_DEFAULTS, nodeStateAt } from '../../seams/node-registry.js';
import { redisFailure } from './redis-unavailable.js';

export interface RedisNodeRegistryOptions extends Partial<NodeRegistryTimings> {
  redis: Redis | Cluster;
  /** Prefix of the registry's keys, no braces (default `freshcache:`, as the log's). */
  namespace?: string;
  clock?: Clock;
}

/**
 * Drops the nodes last seen at or before ARGV[1] (ms): their ids leave the sorted set, their records the hash.
 * KEYS: records hash, last-seen sorted set.
 */
const PRUNE = `
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for i = 1, #gone do redis.call('HDEL', KEYS[1], gone[i]) end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1]) end
`;
/** ARGV: removal cutoff, id, last seen (ms), record JSON. */
const HEARTBEAT = `${PRUNE}
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4])
`;
/** ARGV: removal cutoff. Returns the records hash, flat. */
const LIST = `${PRUNE}
return redis.call('HGETALL', KEYS[1])
`;

/**
 * The node registry on Redis: one hash of records (id → JSON with its last-seen time) and one
 * sorted set of ids by last-seen time, both under the `{nodes}` hash tag, so on a Redis Cluster
 * they sit in one slot and each script touches them together. Not a key per node with a TTL:
 * a key that expires is simply gone, with no `down` phase to show before it is removed, and
 * listing keys spread over a cluster's slots would take a SCAN of every master. Here a list is
 * one HGETALL, and the down and removal bounds are judged against the Clock, so tests drive them
 * without waiting. Times are the nodes' own clocks: a node whose clock is ahead shows as up
 * longer, by its skew.
 */
export class RedisNodeRegistry implements NodeRegistry {
  private readonly redis: Redis | Cluster;
  private readonly clock: Clock;
  private readonly timings: NodeRegistryTimings;
  private readonly recordsKey: string;
  private readonly seenKey: string;

  constructor(options: RedisNodeRegistryOptions) {
    this.redis = options.redis;
    this.clock = options.clock ?? systemClock;
    this.timings = { downAfterMs: options.downAfterMs ?? NODE_REGISTRY_DEFAULTS.downAfterMs, removeAfterMs: options.removeAfterMs ?? NODE_REGISTRY_DEFAULTS.removeAfterMs };
    const namespace = options.namespace ?? 'freshcache:';
    if (/[{}]/.test(namespace)) throw new Error(`node registry namespace must not contain braces (it would change the hash slot): "${namespace}"`);
    this.recordsKey = `${namespace}{nodes}:records`;
    this.seenKey = `${namespace}{nodes}:seen`;
  }

  async heartbeat(record: NodeRecord): Promise<void> {
    const now = this.clock.now();
    const body = JSON.stringify({ ...record, lastSeenAt: now });
    await this.redis.eval(HEARTBEAT, 2, this.recordsKey, this.seenKey, String(this.cutoff(now)), record.id, String(now), body).catch(failed('heartbeat'));
  }

  async list(): Promise<NodeView[]> {
    const now = this.clock.now();
    const flat = (await this.redis.eval(LIST, 2, this.recordsKey, this.seenKey, String(this.cutoff(now))).catch(failed('list'))) as string[];
    const views: NodeView[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const view = this.view(flat[i + 1]!, now);
      if (view) views.push(view);
    }
    return views.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async get(id: string): Promise<NodeView | undefined> {
    const body = await this.redis.hget(this.recordsKey, id).catch(failed('get'));
    return body === null ? undefined : this.view(body, this.clock.now());
  }

  async deregister(id: string): Promise<void> {
    await this.redis.multi().hdel(this.recordsKey, id).zrem(this.seenKey, id).exec().catch(failed('deregister'));
  }

  /** The connection is the caller's. */
  async close(): Promise<void> {}

  private cutoff(now: number): number {
    return now - this.timings.removeAfterMs;
  }

  /** A stored record as listed at `now`; undefined when it is past removal or unreadable (a newer release's layout). */
  private view(body: string, now: number): NodeView | undefined {
    let stored: (NodeRecord & { lastSeenAt: number }) | undefined;
    try {
      stored = JSON.parse(body) as NodeRecord & { lastSeenAt: number };
    } catch {
      return undefined;
    }
    const state = typeof stored?.lastSeenAt === 'number' ? nodeStateAt(stored.lastSeenAt, now, this.timings) : undefined;
    return state === undefined ? undefined : { ...stored, state };
  }
}

function failed(operation: string): (error: unknown) => never {
  return (error) => {
    throw redisFailure('store_unavailable', `node registry ${operation}`, error);
  };
}
