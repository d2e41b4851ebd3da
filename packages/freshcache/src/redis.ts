/** The Redis parts (`freshcache/redis`): a shared L2 and the invalidation log, made from a URL. */
import type { Cluster, Redis } from 'ioredis';
import { createRedisConnection } from './adapters/redis/redis-connection.js';
import { RedisStore } from './adapters/redis/redis-store.js';
import { RedisStreamLog } from './adapters/redis/redis-stream-log.js';
import type { LogReplication } from './adapters/redis/redis-stream-log.js';
import type { Clock } from './engine/clock.js';
import type { Serializer } from './seams/serializer.js';

export { RedisStore } from './adapters/redis/redis-store.js';
export type { RedisStoreOptions } from './adapters/redis/redis-store.js';
export { RedisStreamLog, DEFAULT_CUT_OFF_MS, DEFAULT_LOG_REPLICATION } from './adapters/redis/redis-stream-log.js';
export type { LogReplication, RedisStreamLogOptions } from './adapters/redis/redis-stream-log.js';
export { RedisNodeRegistry } from './adapters/redis/redis-node-registry.js';
export type { RedisNodeRegistryOptions } from './adapters/redis/redis-node-registry.js';
export { RedisLeases } from './adapters/redis/redis-leases.js';
export { createRedisConnection } from './adapters/redis/redis-connection.js';
export type { RedisConnectionOptions } from './adapters/redis/redis-connection.js';
export { BreakerStore } from './adapters/resilience/breaker-store.js';
export type { BreakerStoreOptions } from './adapters/resilience/breaker-store.js';
export { CircuitBreaker, CircuitOpenError, CallTimeoutError } from './adapters/resilience/circuit-breaker.js';
export type { BreakerState, CircuitBreakerOptions, StateChange } from './adapters/resilience/circuit-breaker.js';

export interface RedisPartOptions {
  /** `redis://host:port`: the part opens its own connection and closes it on `close()`. */
  url: string;
  /** Prefix of the part's keys, no braces. Nodes that share a region's L2 or a log use the same one. */
  namespace?: string;
  clock?: Clock;
  /** Connection errors (the part reconnects on its own); without it they are dropped. */
  onError?: (error: unknown) => void;
}

/**
 * A shared L2 on Redis. Caches that pass stores with the same URL and namespace share one tier;
 * a freshcache server's region `R` keeps its L2 under `<l2.namespace>R:` (default `freshcache:l2:R:`).
 * `serializer`: the same as the caches' (`createCache({ serializer })`); default typedJsonSerializer.
 */
export function redisStore(options: RedisPartOptions & { serializer?: Serializer }): RedisStore {
  const redis = connect(options);
  return new (class extends RedisStore {
    override async close(): Promise<void> {
      await super.close();
      redis.disconnect();
    }
  })({ redis, prefix: options.namespace, clock: options.clock, serializer: options.serializer });
}

/**
 * The invalidation log on Redis Streams (default namespace `freshcache:`, as a server's).
 * `cutOffMs` (default 1 s): how long a cache keeps serving its L1 without news from the log
 * before it flushes (see RedisStreamLogOptions). `replication` (default `{ wait: 'auto',
 * timeoutMs: 1000 }`): whether a publish resolves only once a replica has it (see LogReplication).
 */
export function redisStreamLog(options: RedisPartOptions & { retain?: number; cutOffMs?: number; replication?: Partial<LogReplication> }): RedisStreamLog {
  const redis = connect(options);
  return new (class extends RedisStreamLog {
    override async close(): Promise<void> {
      await super.close();
      redis.disconnect();
    }
  })({ redis, namespace: options.namespace, retain: options.retain, cutOffMs: options.cutOffMs, replication: options.replication, clock: options.clock, onError: options.onError });
}

function connect(options: RedisPartOptions): Redis | Cluster {
  return createRedisConnection({ url: options.url, onError: options.onError ?? (() => {}) });
}
export { RedisApplyMarks } from './adapters/redis/redis-apply-marks.js';
