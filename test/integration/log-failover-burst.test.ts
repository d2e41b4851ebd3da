import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { OutboxFeed } from '../../packages/freshcache/src/adapters/postgres/outbox-feed.js';
import { installOutbox, OUTBOX_TABLE } from '../../packages/freshcache/src/adapters/postgres/outbox-install.js';
import { createRedisConnection } from '../../packages/freshcache/src/adapters/redis/redis-connection.js';
import { RedisStreamLog } from '../../packages/freshcache/src/adapters/redis/redis-stream-log.js';
import { compileRules } from '../../packages/freshcache/src/capture/capture-rules.js';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import type { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';
import { Relay } from '../../packages/freshcache-server/src/topology/relay.js';
import type { PausableProxy } from '../testkit/pausable-proxy.js';
import { startPausableProxy } from '../testkit/pausable-proxy.js';
import type { RedisCluster } from '../testkit/redis-cluster.js';
import { startRedisCluster } from '../testkit/redis-cluster.js';
import { testSqlClient } from '../testkit/test-topology.js';

/**
 * A burst of committed changes and, at once, a kill -9 of the log's primary, on a Redis Cluster
 * with a replica per primary: three regions' caches (createCache, an L1 each, no delay line),
 * each following the log on its own connection, must each apply every change of the burst or
 * flush after it, and none may serve a value from before the burst once the failover is over.
 * Region `a` has the default cut-off (it flushes when the log goes silent); `b` and `c` ride
 * the failover out with a long one, so they pass only by the events themselves (or an epoch or
 * reset gap, which flushes). `c` reaches the cluster through proxies paused from before the
 * burst until after the kill, so it reads every event of the burst from the promoted replica,
 * from the cursor it had before the partition.
 */
const NODE_TIMEOUT_MS = 1_000;
const WAIT = { timeout: 20_000, interval: 50 };
const NAMESPACE = 'burst:';
/** Rows 1..BURST change in the burst; row 0 is the marker changed once the failover is over. */
const BURST = 40;
/** The burst's first part is on the replica (its outbox rows deleted) before the rest commits. */
const REPLICATED_FIRST = 20;
const BEFORE = 'before';
const AFTER = 'after';
const LONG_CUT_OFF_MS = 60_000;

let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

function connect(): Cluster {
  const client = createRedisConnection({ cluster: cluster.nodes, onError: () => {} });
  onTestFinished(() => void client.disconnect());
  return client;
}

/** A proxy in front of every node of the cluster, keyed by the address the node announces. */
async function proxyEveryNode(): Promise<Map<string, PausableProxy>> {
  const proxies = new Map<string, PausableProxy>();
  for (const { host, port } of cluster.nodes) {
    const proxy = await startPausableProxy({ host, port });
    onTestFinished(() => proxy.close());
    proxies.set(`${host}:${port}`, proxy);
  }
  return proxies;
}

/** A Cluster client with createRedisConnection's settings that reaches every node (redirections and failovers too) through its proxy. */
function connectThrough(proxies: Map<string, PausableProxy>): Cluster {
  const client = new Cluster(
    [...proxies.values()].map(({ host, port }) => ({ host, port })),
    {
      redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 2_000 },
      enableOfflineQueue: true,
      scaleReads: 'master',
      natMap: (address) => {
        const proxy = proxies.get(address);
        return proxy ? { host: proxy.host, port: proxy.port } : null;
      },
    },
  );
  client.on('error', () => {});
  onTestFinished(() => void client.disconnect());
  return client;
}

/** What one region's cache did, in the order of `tick()`. */
interface Region {
  name: string;
  cache: TieredCache;
  /** Per key, the ticks at which an event naming it was applied. */
  applied: Map<string, number[]>;
  flushes: { reason: string; at: number }[];
  /** When its log reader's reads failed. */
  failedReads: number[];
}

let ticks = 0;
/** Orders what happens (commits, the kill, the caches' callbacks) on the test's one thread. */
const tick = () => ++ticks;

async function startRegion(name: string, redis: Cluster, load: (id: number) => Promise<string>, cutOffMs?: number): Promise<Region> {
  const region: Region = { name, cache: undefined as unknown as TieredCache, applied: new Map(), flushes: [], failedReads: [] };
  let ready = () => {};
  const started = new Promise<void>((resolve) => (ready = resolve));
  region.cache = createCache({
    l1: { maxEntries: 1_000 },
    invalidations: {
      log: new RedisStreamLog({
        redis,
        namespace: NAMESPACE,
        blockMs: 100,
        cutOffMs,
        onError: (_error, context) => {
          if (context === 'reading the invalidation log') region.failedReads.push(tick());
        },
      }),
      region: name,
      registry: false,
      onReady: () => ready(),
      onApplied: (event) => {
        const at = tick();
        for (const key of event.keys) region.applied.set(key, [...(region.applied.get(key) ?? []), at]);
      },
      onFlushed: (reason) => region.flushes.push({ reason, at: tick() }),
    },
  });
  onTestFinished(() => region.cache.close());
  region.cache.define('item:{id}', { load: ({ id }) => load(Number(id)) });
  await started;
  return region;
}

it('a burst of committed changes, the log\'s primary killed (-9) right after the last commit: once the outbox is empty and every region has read the log to its end, every region applied each change or flushed after it, and serves the new value of every row (a region partitioned through the burst reads it from the promoted replica)', { timeout: 60_000 }, async () => {
  const sql = await testSqlClient();
  await sql.db.exec('CREATE TABLE items (id integer PRIMARY KEY, value text NOT NULL)');
  await installOutbox(sql, ['items']);
  const outboxRows = async () => Number((await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${OUTBOX_TABLE}`)).rows[0]!.n);
  const feed = new OutboxFeed({ sql, tables: ['items'], pollMs: 50, onError: () => {} });
  // Waits for the replica (wait 'auto', a short WAIT so that retries come soon after the kill).
  const relayLog = new RedisStreamLog({ redis: connect(), namespace: NAMESPACE, blockMs: 100, replication: { timeoutMs: 200 } });
  onTestFinished(() => relayLog.close());
  const relay = new Relay({ feed, log: relayLog, map: compileRules([{ table: 'items', key: 'item:{id}' }], { primaryKeyOf: () => ['id'] }).map });
  await relay.start();
  onTestFinished(() => relay.stop());
  await sql.query(`INSERT INTO items SELECT g, '${BEFORE}' FROM generate_series(0, ${BURST}) g`);
  await expect.poll(outboxRows, WAIT).toBe(0);

  const load = async (id: number) => (await sql.query<{ value: string }>('SELECT value FROM items WHERE id = $1', [id])).rows[0]!.value;
  const proxies = await proxyEveryNode();
  const regions = [
    await startRegion('a', connect(), load),
    await startRegion('b', connect(), load, LONG_CUT_OFF_MS),
    await startRegion('c', connectThrough(proxies), load, LONG_CUT_OFF_MS),
  ];
  const [, , partitioned] = regions as [Region, Region, Region];
  const keys = Array.from({ length: BURST }, (_, i) => `item:${i + 1}`);
  for (const { cache } of regions) {
    for (const key of keys) expect(await cache.getOrLoad(key)).toBe(BEFORE);
    // Held in L1: only an applied event or a flush can drop them.
    const held = await Promise.all(keys.map((key) => cache.lookup(key)));
    expect(held.filter((found) => !(found?.tier === 'l1' && found.state === 'HIT' && found.value === BEFORE))).toEqual([]);
  }

  // The log's primary and its replica.
  const slot = Number(await connect().cluster('KEYSLOT', `${NAMESPACE}{log}:events`));
  const owner = cluster.servers.find((node) => node.role === 'primary' && node.slots.some(([first, last]) => first <= slot && slot <= last))!;
  const replica = cluster.servers.find((node) => node.replicaOf === owner.name)!;
  const ownerClient = new Redis(owner.server.port, owner.server.host, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  ownerClient.on('error', () => {});
  onTestFinished(() => void ownerClient.disconnect());

  // `c`'s connections to the log's primary, as it lists them.
  const clientsOfC = async () => {
    const ours = new Set([...proxies.values()].flatMap((proxy) => proxy.upstreamPorts()));
    const clients = (await ownerClient.client('LIST')) as string;
    return clients.split('\n').filter((line) => ours.has(Number(/(?:^| )addr=[^ ]*:(\d+) /.exec(line)?.[1])));
  };
  // Partition `c` once its reader reads the log (its cache is ready before that). Then wait
  // until its reader noticed (a read timed out: it checks the log again when it reconnects, and
  // must go on from its cursor then), and until no read of `c` is blocked at the log's primary
  // (the last one was answered, empty: the log is quiet). From here on no command of `c`
  // reaches Redis, so no reply can carry an event of the burst to it before the kill.
  await expect.poll(async () => (await clientsOfC()).some((line) => / cmd=xread /.test(line)), WAIT).toBe(true);
  for (const proxy of proxies.values()) proxy.pause();
  const pausedAt = tick();
  await expect.poll(() => partitioned.failedReads.some((at) => at > pausedAt), WAIT).toBe(true);
  await expect.poll(async () => (await clientsOfC()).filter((line) => / flags=\S*b/.test(line)), WAIT).toEqual([]);

  // The burst: single-row UPDATE transactions. The first part is on the replica before the rest
  // commits, so `c` has events to read from the promoted replica whatever the relay managed
  // before the kill; the kill comes right after the last commit, while the relay publishes.
  const committedAt = new Map<string, number>();
  const update = async (id: number) => {
    await sql.query('UPDATE items SET value = $1 WHERE id = $2', [AFTER, id]);
    committedAt.set(`item:${id}`, tick());
  };
  for (let id = 1; id <= REPLICATED_FIRST; id++) await update(id);
  await expect.poll(outboxRows, WAIT).toBe(0);
  for (let id = REPLICATED_FIRST + 1; id <= BURST; id++) await update(id);
  await owner.server.kill();
  const killedAt = tick();
  for (const proxy of proxies.values()) proxy.resume();

  const promoted = new Redis(replica.server.port, replica.server.host, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  promoted.on('error', () => {});
  onTestFinished(() => void promoted.disconnect());
  await expect.poll(async () => (await promoted.info('replication')).includes('role:master'), WAIT).toBe(true);

  // Afterwards, by events: every change is published on the promoted primary (the outbox is
  // empty), and every region has read the log to its end: a marker changed now reached each.
  // (A region's highest id received is no proof: after a lost tail the log reuses ids.)
  await expect.poll(outboxRows, WAIT).toBe(0);
  await sql.query('UPDATE items SET value = $1 WHERE id = 0', [AFTER]);
  const markerAt = tick();
  await expect.poll(outboxRows, WAIT).toBe(0);
  await expect.poll(() => regions.filter((region) => !(region.applied.get('item:0') ?? []).some((at) => at > markerAt)).map((r) => r.name), WAIT).toEqual([]);

  // Each region applied an event naming each row after its commit, or flushed after it.
  const covered = (region: Region, key: string) =>
    (region.applied.get(key) ?? []).some((at) => at > committedAt.get(key)!) || region.flushes.some(({ at }) => at > committedAt.get(key)!);
  const report = regions.map(({ name, applied, flushes }) => ({
    name,
    applied: keys.filter((key) => (applied.get(key) ?? []).some((at) => at > committedAt.get(key)!)).length,
    beforeKill: keys.filter((key) => (applied.get(key) ?? []).some((at) => at < killedAt)).length,
    flushes: flushes.map(({ reason, at }) => `${reason} (${at > killedAt ? 'after' : 'before'} the kill)`),
  }));
  expect(regions.flatMap((region) => keys.filter((key) => !covered(region, key)).map((key) => `${region.name} ${key}`)), JSON.stringify(report)).toEqual([]);
  // `b` and `c` passed by the log itself: no flush for a silent log (their cut-off is long).
  expect(regions.slice(1).flatMap(({ flushes }) => flushes.filter(({ reason }) => reason !== 'log epoch' && reason !== 'log reset'))).toEqual([]);
  // `c` read none of the burst before the kill.
  expect(keys.filter((key) => (partitioned.applied.get(key) ?? []).some((at) => at < killedAt))).toEqual([]);

  // And none serves a value from before the burst.
  for (const region of regions) {
    const served = await Promise.all(keys.map(async (key) => [key, await region.cache.lookupOrLoad(key)] as const));
    expect(served.filter(([, lookup]) => lookup.value !== AFTER || lookup.state === 'STALE').map(([key, lookup]) => `${region.name} ${key}: ${lookup.value} ${lookup.state}`)).toEqual([]);
  }
});
