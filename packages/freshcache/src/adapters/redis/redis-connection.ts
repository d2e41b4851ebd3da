import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';

export interface RedisConnectionCommon {
  /**
   * Receives connection errors (refused, reset, timed out). Without a listener ioredis prints
   * each failed reconnect attempt to the console, so pass a logger here.
   */
  onError?: (error: Error) => void;
}

export type RedisConnectionOptions = ({ url: string } | { cluster: { host: string; port: number }[] }) & RedisConnectionCommon;

/**
 * An ioredis client tuned for a cache: Redis is an optimisation that may go away at any moment,
 * and the origin can always answer. So a command should fail soon rather than wait, and the
 * connection should come back on its own. The CircuitBreaker (adapters/resilience) sits on top:
 * it bounds every call in time (`callTimeoutMs`) and stops sending while Redis is down, so no
 * command timeout is set here; one time budget lives in one place.
 */
export function createRedisConnection(options: { url: string } & RedisConnectionCommon): Redis;
export function createRedisConnection(options: { cluster: { host: string; port: number }[] } & RedisConnectionCommon): Cluster;
export function createRedisConnection(options: RedisConnectionOptions): Redis | Cluster;
export function createRedisConnection(options: RedisConnectionOptions): Redis | Cluster {
  const perConnection: RedisOptions = {
    // The default (20) holds a command through 20 failed reconnects: seconds of a request
    // waiting on a cache while the origin could answer. With 1 a command survives one blip
    // (a dropped idle connection that comes straight back) and then fails.
    maxRetriesPerRequest: 1,
    // The default (10 s) is how long a request could hang on a black-holed host.
    connectTimeout: 2_000,
    // Commands issued in one tick leave in one write: a region applying a batch of invalidations
    // sends hundreds of deletes at once, and a write per command was most of the CPU it took.
    enableAutoPipelining: true,
  };
  const client =
    'url' in options
      ? new Redis(options.url, {
          ...perConnection,
          retryStrategy: reconnectDelay,
          // Kept on: commands issued while the first connection or a reconnect is in progress wait
          // for it (a node that just started does not miss on every read), and they leave in the
          // order they were issued, so a delete is never overtaken by an older set. The queue
          // cannot grow without bound: maxRetriesPerRequest empties it after failed reconnects,
          // callers give up after the breaker's callTimeoutMs, and while the breaker is open
          // nothing but its single probe is sent.
          enableOfflineQueue: true,
        })
      : new Cluster(options.cluster, {
          redisOptions: perConnection,
          clusterRetryStrategy: reconnectDelay,
          // The same reasoning as standalone (above) while the slot map is being fetched.
          enableOfflineQueue: true,
          // Read from masters only: a replica lags, and could still hold an entry whose
          // invalidation (a DEL on the master) it has not received yet.
          scaleReads: 'master',
          // Off in a cluster: ioredis batches auto-pipelined commands per node and handles a MOVED
          // for the whole batch, so while slots move (a resharding) commands failed with MOVED or
          // "All keys in the pipeline should belong to the same slots allocation group" instead of
          // being redirected (ioredis issue #2075; test/integration/redis-resharding.test.ts).
          enableAutoPipelining: false,
          // Ask for the slot map every second (default 5 s): the breaker of a dead primary (a part
          // of BreakerStore) sends nothing that would teach the client its replica took over, so
          // its keys reach L2 again once this refresh names their new primary.
          slotsRefreshInterval: 1_000,
        } satisfies ClusterOptions);
  if (options.onError) client.on('error', options.onError);
  return client;
}

/**
 * Reconnect for ever, 100 ms doubling up to 2 s: giving up would leave a node without its shared
 * tier after Redis came back (the breaker's probe would fail for ever). The jitter (±25 %)
 * keeps a fleet of nodes from reconnecting in lockstep to a Redis that just restarted.
 */
function reconnectDelay(attempt: number): number {
  const base = Math.min(2_000, 50 * 2 ** Math.min(attempt, 6));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}
