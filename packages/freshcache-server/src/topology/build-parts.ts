import type { Cluster, Redis } from 'ioredis';
import { MemoryApplyMarks, MemoryLog, type ApplyMarks, type Clock, type InvalidationLog, type Store } from 'freshcache';
import { createPgClient, postgresCapture, type PostgresCapture, type SqlClient } from 'freshcache/postgres';
import { createRedisConnection, RedisApplyMarks, RedisStore, RedisStreamLog, BreakerStore, CircuitBreaker } from 'freshcache/redis';
import { createPgliteClient } from '../adapters/postgres/pglite-client.js';
import type { FreshcacheConfig, RedisTarget } from '../config.js';
import type { Logger } from '../observability/logger.js';
import type { TopologyApp } from './topology-app.js';
import { MemoryRegionSettings, RedisRegionSettings, type RegionSettingsStore } from './region-settings-store.js';

/** The adapters a topology runs on, chosen by configuration: embedded (one process) or real (many). */
export interface TopologyParts {
  sql: SqlClient;
  log: InvalidationLog;
  /** Where every node says how far it applied the log (on the log's Redis when there is one). */
  applyMarks: ApplyMarks;
  /** The region settings changed at run time, for the nodes that start later. */
  regionSettings: RegionSettingsStore;
  /** The origin's changes and what they invalidate, when this process may relay them. */
  capture: PostgresCapture | undefined;
  /** Where a standby relay campaigns for the lock; absent when this process simply leads (embedded). */
  election: { connectionString: string } | undefined;
  /** A region's L2 when the region's nodes share one (Redis); undefined: the node keeps its own in memory. */
  sharedL2(region: string): Store | undefined;
  /** Circuit breakers in front of Redis, for metrics. */
  breakers: CircuitBreaker[];
  /** Whether appends to the log go on without a replica (a Redis log whose primary has none connected); absent for a log without replication. */
  logUnreplicated: (() => boolean) | undefined;
  close(): Promise<void>;
}

export interface PartsOptions {
  config: Readonly<FreshcacheConfig>;
  clock: Clock;
  logger: Logger;
  /** An origin connection made by the caller (tests, the embedded demo's data dir). */
  sql?: SqlClient;
  /** Apps on top: each installs its schema before capture starts, and adds its capture rules. */
  apps?: readonly TopologyApp[];
}

export async function buildParts({ config, clock, logger, sql: given, apps = [] }: PartsOptions): Promise<TopologyParts> {
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
    // Before capture: it checks the rules' tables against the database.
    for (const app of apps) await app.install?.({ sql, config, logger });

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
            cutOffMs: config.log.cutOffMs,
            replication: config.log.replication,
            clock,
            onError: (error, context) => logger.warn({ err: error }, context),
            onReplicationChange: ({ unreplicated }) => {
              if (unreplicated) logger.warn('the invalidation log\'s Redis primary has no connected replica: appends go on unreplicated, and a failover now could lose them');
              else logger.info('the invalidation log\'s Redis primary has a replica again: appends wait for it');
            },
          })
        : new MemoryLog({
            clock,
            retain: config.log.retain,
            onSubscriberError: (error, event) => logger.error({ err: error, event: event.id }, 'an invalidation subscriber failed; the others still got the event'),
          });
    closers.push(() => log.close());
    const applyMarks: ApplyMarks = config.log.kind === 'redis' ? new RedisApplyMarks(redis(config.log.redis), config.log.namespace) : new MemoryApplyMarks();
    const regionSettings: RegionSettingsStore = config.log.kind === 'redis' ? new RedisRegionSettings(redis(config.log.redis), config.log.namespace) : new MemoryRegionSettings();

    const capture = config.roles.relay ? await captureParts(config, apps, sql, clock, logger) : undefined;
    const l2s = new Map<string, BreakerStore>();
    const l2 = config.l2;
    return {
      sql,
      log,
      applyMarks,
      regionSettings,
      capture,
      election: config.origin.kind === 'postgres' ? { connectionString: config.origin.url } : undefined,
      // Those of the parts each store has now (a failed-over primary's breaker would stay open).
      get breakers() {
        return [...l2s.values()].flatMap((store) => store.currentBreakers());
      },
      logUnreplicated: log instanceof RedisStreamLog ? () => log.unreplicated : undefined,
      sharedL2: (region) => {
        if (l2.kind !== 'redis') return undefined;
        let store = l2s.get(region);
        if (!store) {
          // On a Redis Cluster each primary gets a breaker of its own (l2:REGION HOST:PORT), made
          // as its keys are first used: a dead primary sends only its own keys to the origin.
          const watched = (name: string) => {
            const breaker = new CircuitBreaker({ name, clock });
            breaker.onStateChange((change) => logger.warn({ ...change }, 'redis circuit breaker changed state'));
            return breaker;
          };
          store = new BreakerStore({
            store: new RedisStore({ redis: redis(l2.redis), prefix: `${l2.namespace}${region}:`, clock, name: `redis:${region}` }),
            breaker: watched(`l2:${region}`),
            partBreaker: (part) => watched(`l2:${region} ${part}`),
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

async function captureParts(config: Readonly<FreshcacheConfig>, apps: readonly TopologyApp[], sql: SqlClient, clock: Clock, logger: Logger): Promise<PostgresCapture> {
  const kind = config.capture.kind;
  return postgresCapture({
    sql,
    rules: [...config.capture.rules, ...apps.flatMap((app) => app.captureRules ?? [])],
    kind,
    connectionString: config.origin.kind === 'postgres' ? config.origin.url : undefined,
    slotName: config.capture.kind === 'wal' ? config.capture.slot : undefined,
    pollMs: config.relay.pollMs,
    clock,
    onError:
      kind === 'wal'
        ? (error) => logger.warn({ err: error }, 'WAL capture failed; it reconnects and resumes from its slot')
        : (error) => logger.error({ err: error }, 'relay could not read the outbox; it retries on the next wake-up'),
    onWarning: (message) => logger.warn(message),
  });
}
