import { Redis } from 'ioredis';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { OutboxFeed } from '../../packages/freshcache/src/adapters/postgres/outbox-feed.js';
import { installOutbox, OUTBOX_TABLE } from '../../packages/freshcache/src/adapters/postgres/outbox-install.js';
import { createRedisConnection } from '../../packages/freshcache/src/adapters/redis/redis-connection.js';
import { RedisStreamLog } from '../../packages/freshcache/src/adapters/redis/redis-stream-log.js';
import type { LogReplication } from '../../packages/freshcache/src/adapters/redis/redis-stream-log.js';
import { compileRules } from '../../packages/freshcache/src/capture/capture-rules.js';
import type { GapInfo, InvalidationEvent } from '../../packages/freshcache/src/seams/invalidation-log.js';
import { Relay } from '../../packages/freshcache-server/src/topology/relay.js';
import type { RedisCluster, RedisClusterNode } from '../testkit/redis-cluster.js';
import { startRedisCluster } from '../testkit/redis-cluster.js';
import { testSqlClient } from '../testkit/test-topology.js';

/**
 * The relay through a failover of the log's primary, on a Redis Cluster with a replica per
 * primary: it deletes an outbox row only once its event is on the replica, so the rows changed
 * while the replica is frozen (SIGSTOP) wait in the outbox; the primary is then killed (-9), the
 * replica thawed and promoted, and the relay publishes them on it. (A frozen replica still gets
 * what the kernel buffered for it once thawed, so this failover loses nothing: the proofs that a
 * lost tail is detected are test/contract/redis-log-epoch.test.ts.)
 */
const NODE_TIMEOUT_MS = 1_000;
const WAIT = { timeout: 30_000, interval: 50 };
const ROWS_BEFORE = 20;
const ROWS_DURING = 20;

let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
}, 60_000);

afterAll(async () => {
  for (const node of cluster?.servers ?? []) node.server.resume();
  await cluster?.stop();
});

function connect(): Cluster {
  const client = createRedisConnection({ cluster: cluster.nodes, onError: () => {} });
  onTestFinished(() => void client.disconnect());
  return client;
}

async function logPrimary(client: Cluster, namespace: string): Promise<{ owner: RedisClusterNode; replica: RedisClusterNode }> {
  const slot = Number(await client.cluster('KEYSLOT', `${namespace}{log}:events`));
  const owner = cluster.servers.find((node) => node.role === 'primary' && node.slots.some(([first, last]) => first <= slot && slot <= last))!;
  return { owner, replica: cluster.servers.find((node) => node.replicaOf === owner.name)! };
}

async function run(replication: Partial<LogReplication>) {
  const namespace = `failover-${replication.wait}:`;
  const client = connect();
  const log = new RedisStreamLog({ redis: client, namespace, blockMs: 100, replication: { timeoutMs: 200, ...replication } });
  onTestFinished(() => log.close());
  const sql = await testSqlClient();
  await sql.db.exec('CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL)');
  await installOutbox(sql, ['users']);
  const feed = new OutboxFeed({ sql, tables: ['users'], pollMs: 50, onError: () => {} });
  const relay = new Relay({ feed, log, map: compileRules([{ table: 'users', key: 'user:{id}' }], { primaryKeyOf: () => ['id'] }).map });
  await relay.start();
  onTestFinished(() => relay.stop());
  const outboxRows = async () => Number((await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${OUTBOX_TABLE}`)).rows[0]!.n);
  // A node reading the log all along.
  const seen: (InvalidationEvent | GapInfo)[] = [];
  const reader = new RedisStreamLog({ redis: connect(), namespace, blockMs: 100 });
  onTestFinished(() => reader.close());
  reader.subscribe({ afterId: 0, onEvent: (event) => seen.push(event), onGap: (gap) => seen.push(gap) });

  for (let id = 1; id <= ROWS_BEFORE; id++) await sql.query(`INSERT INTO users VALUES (${id}, 'before')`);
  await expect.poll(outboxRows, WAIT).toBe(0);

  const { owner, replica } = await logPrimary(client, namespace);
  replica.server.pause();
  for (let id = ROWS_BEFORE + 1; id <= ROWS_BEFORE + ROWS_DURING; id++) await sql.query(`INSERT INTO users VALUES (${id}, 'during')`);
  // The relay has handed every row during the freeze to the log (acknowledged or not): the reader has them all.
  await expect.poll(() => seen.filter((item) => 'keys' in item).length, WAIT).toBeGreaterThanOrEqual(ROWS_BEFORE + ROWS_DURING);
  const leftBeforeKill = await outboxRows();

  await owner.server.kill();
  replica.server.resume();
  const promoted = new Redis(replica.server.port, replica.server.host, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  promoted.on('error', () => {});
  onTestFinished(() => promoted.disconnect());
  await expect.poll(async () => (await promoted.info('replication')).includes('role:master'), WAIT).toBe(true);
  await expect.poll(outboxRows, WAIT).toBe(0);

  // The log as the promoted replica holds it.
  const kept = new Set((await promoted.xrange(`${namespace}{log}:events`, '-', '+')).map(([, fields]) => (JSON.parse(fields[1]!) as { keys: string[] }).keys[0]));
  const lost = Array.from({ length: ROWS_BEFORE + ROWS_DURING }, (_, i) => `user:${i + 1}`).filter((key) => !kept.has(key));
  return { leftBeforeKill, lost, seen, log };
}

it('kill -9 of the log\'s primary: the rows whose events no replica confirmed stay in the outbox, and are published on the promoted replica (every row has its event there); with no replica left, appends go on unreplicated; the reader flushes', { timeout: 90_000 }, async () => {
  const { leftBeforeKill, lost, seen, log } = await run({ wait: 'auto' });
  // Nothing during the freeze was acknowledged: the rows waited in the outbox.
  expect(leftBeforeKill).toBe(ROWS_DURING);
  expect(lost).toEqual([]);
  // The promoted replica has no replica of its own (its old primary is dead).
  expect(log.unreplicated).toBe(true);
  const gaps = () => seen.filter((item): item is GapInfo => !('keys' in item)).map((gap) => gap.reason);
  await expect.poll(() => gaps().length, WAIT).toBeGreaterThan(0);
});
