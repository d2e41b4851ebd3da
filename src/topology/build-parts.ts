import type { Cluster, Redis } from 'ioredis';
import { MemoryLog } from '../adapters/memory/memory-log.js';
import { createPgClient } from '../adapters/postgres/pg-client.js';
import { createPgliteClient } from '../adapters/postgres/pglite-client.js';
import { OutboxFeed } from '../adapters/postgres/outbox-feed.js';
import type { SqlClient } from '../adapters/postgres/sql-client.js';
import { SqlOriginStore } from '../adapters/postgres/sql-origin-store.js';
import { WalFeed } from '../adapters/postgres/wal-feed.js';
import { createRedisConnection } from '../adapters/redis/redis-connection.js';
import { RedisStore } from '../adapters/redis/redis-store.js';
import { RedisStreamLog } from '../adapters/redis/redis-stream-log.js';
import { BreakerStore } from '../adapters/resilience/breaker-store.js';
import { CircuitBreaker } from '../adapters/resilience/circuit-breaker.js';
import type { FreshcacheConfig, RedisTarget } from '../config.js';
import type { Clock } from '../engine/clock.js';
import type { Logger } from '../observability/logger.js';
import type { ChangeFeed } from '../seams/change-feed.js';
import type { InvalidationLog } from '../seams/invalidation-log.js';
import type { OriginStore } from '../seams/origin-store.js';
import type { Store } from '../seams/store.js';

/** The adapters a topology runs on, chosen by configuration: embedded (one process) or real (many). */
export interface TopologyParts {
  sql: SqlClient;
  origin: OriginStore;
  log: InvalidationLog;
  /** The origin's changes, when this process may relay them. */
  feed: ChangeFeed | undefined;
  /** Where a standby relay campaigns for the lock; absent when this process simply leads (embedded). */
  election: { connectionString: string } | undefined;
  /** A region's L2 when the region's nodes share one (Redis); undefined: the node keeps its own in memory. */
  sharedL2(region: string): Store | undefined;
  /** Circuit breakers in front of Redis, for metrics. */
  breakers: CircuitBreaker[];
  close(): Promise<void>;
}

export interface PartsOptions {
  config: Readonly<FreshcacheConfig>;
  clock: Clock;
  logger: Logger;
  /** An origin connection made by the caller (tests, the embedded demo's data dir). */
  sql?: SqlClient;
}

export async function buildParts({ config, clock, logger, sql: given }: PartsOptions): Promise<TopologyParts> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch((error: unknown) => logger.warn({ err: error }, 'closing a part failed'));
  };
  try {
    const sql =
      given ??
      (config.origin.kind === 'postgres'
        ? await createPgClient({
            connectionString: config.origin.url,
            onError: (error) => logger.warn({ err: error }, 'a PostgreSQL connection was lost; it reconnects'),
          })
        : await createPgliteClient({ dataDir: config.origin.dataDir }));
    closers.push(() => sql.close());
    const origin = new SqlOriginStore(sql);

    const redisConnections = new Map<string, Redis | Cluster>();
    const redis = (target: RedisTarget) => {
      const id = JSON.stringify(target);
      let connection = redisConnections.get(id);
      if (!connection) {
        const made = createRedisConnection({ ...target, onError: (error) => logger.debug({ err: error }, 'redis connection error') });
        closers.push(async () => void made.disconnect());
        redisConnections.set(id, made);
        connection = made;
      }
      return connection;
    };

    const log: InvalidationLog =
      config.log.kind === 'redis'
        ? new RedisStreamLog({
            redis: redis(config.log.redis),
            namespace: config.log.namespace,
            retain: config.log.retain,
            clock,
            onError: (error, context) => logger.warn({ err: error }, context),
          })
        : new MemoryLog({
            clock,
            retain: config.log.retain,
            onSubscriberError: (error, event) => logger.error({ err: error, event: event.id }, 'an invalidation subscriber failed; the others still got the event'),
          });
    closers.push(() => log.close());

    const feed = config.roles.relay ? changeFeed(config, sql, clock, logger) : undefined;
    const breakers: CircuitBreaker[] = [];
    const l2s = new Map<string, Store>();
    const l2 = config.l2;
    return {
      sql,
      origin,
      log,
      feed,
      election: config.origin.kind === 'postgres' ? { connectionString: config.origin.url } : undefined,
      breakers,
      sharedL2: (region) => {
        if (l2.kind !== 'redis') return undefined;
        let store = l2s.get(region);
        if (!store) {
          const breaker = new CircuitBreaker({ name: `l2:${region}`, clock });
          breaker.onStateChange((change) => logger.warn({ ...change }, 'redis circuit breaker changed state'));
          breakers.push(breaker);
          store = new BreakerStore({
            store: new RedisStore({ redis: redis(l2.redis), prefix: `${l2.namespace}${region}:`, clock, name: `redis:${region}` }),
            breaker,
            onError: (error, operation) => logger.debug({ err: error, operation }, 'shared tier unavailable; served without it'),
          });
          l2s.set(region, store);
        }
        return store;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function changeFeed(config: Readonly<FreshcacheConfig>, sql: SqlClient, clock: Clock, logger: Logger): ChangeFeed {
  if (config.capture.kind === 'wal' && config.origin.kind === 'postgres') {
    return new WalFeed({
      connectionString: config.origin.url,
      sql,
      slotName: config.capture.slot,
      clock,
      onError: (error) => logger.warn({ err: error }, 'WAL capture failed; it reconnects and resumes from its slot'),
    });
  }
  return new OutboxFeed({
    sql,
    clock,
    pollMs: config.relay.pollMs,
    onError: (error) => logger.error({ err: error }, 'relay could not read the outbox; it retries on the next wake-up'),
  });
}
