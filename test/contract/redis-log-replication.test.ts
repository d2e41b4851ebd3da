import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { OutboxFeed } from '../../packages/freshcache/src/adapters/postgres/outbox-feed.js';
import { installOutbox, OUTBOX_TABLE } from '../../packages/freshcache/src/adapters/postgres/outbox-install.js';
import { RedisStreamLog } from '../../packages/freshcache/src/adapters/redis/redis-stream-log.js';
import type { LogReplication } from '../../packages/freshcache/src/adapters/redis/redis-stream-log.js';
import { compileRules } from '../../packages/freshcache/src/capture/capture-rules.js';
import { FreshcacheError } from '../../packages/freshcache/src/engine/errors.js';
import type { InvalidationEvent, InvalidationInput } from '../../packages/freshcache/src/seams/invalidation-log.js';
import { Relay } from '../../packages/freshcache-server/src/topology/relay.js';
import { redisClusterForFile } from '../testkit/redis-cluster.js';
import { startRedis } from '../testkit/redis-server.js';
import type { RedisServer } from '../testkit/redis-server.js';
import { testSqlClient } from '../testkit/test-topology.js';

/**
 * Replicated appends on a real primary and replica (`REPLICAOF`): an append is acknowledged only
 * once the replica has it (WAIT after the script), so a failover cannot lose an invalidation that
 * was acknowledged to its source. The replica is frozen with SIGSTOP: its connection stays up, so
 * the primary still counts it, and WAIT gets no acknowledgement.
 */
let primary: RedisServer;
let replica: RedisServer;
let primaryClient: Redis;
let replicaClient: Redis;
let logs = 0;

const WAIT = { timeout: 15_000, interval: 20 };

beforeAll(async () => {
  [primary, replica] = await Promise.all([startRedis(), startRedis()]);
  primaryClient = new Redis(primary.url);
  replicaClient = new Redis(replica.url);
  // Redis 7 waits 5 s for more replicas before a diskless full sync: there is only one here.
  await primaryClient.config('SET', 'repl-diskless-sync-delay', '0');
});

afterAll(async () => {
  primaryClient?.disconnect();
  replicaClient?.disconnect();
  replica?.resume();
  await Promise.all([primary?.stop(), replica?.stop()]);
});

async function connectedReplicas(): Promise<number> {
  return Number(/connected_slaves:(\d+)/.exec(await primaryClient.info('replication'))![1]);
}

/** The replica follows the primary, in sync (its link up and counted by the primary). */
async function attachReplica(): Promise<void> {
  await replicaClient.replicaof(primary.host, String(primary.port));
  await expect.poll(async () => /master_link_status:up/.test(await replicaClient.info('replication')), WAIT).toBe(true);
  await expect.poll(connectedReplicas, WAIT).toBe(1);
}

async function detachReplica(): Promise<void> {
  await replicaClient.replicaof('NO', 'ONE');
  await expect.poll(connectedReplicas, WAIT).toBe(0);
}

const namespaces = new WeakMap<RedisStreamLog, string>();

function open(replication: Partial<LogReplication>, onReplicationChange?: (state: { unreplicated: boolean }) => void, namespace = `r${++logs}:`): RedisStreamLog {
  const log = new RedisStreamLog({ redis: primaryClient, namespace, blockMs: 100, replication, onReplicationChange });
  namespaces.set(log, namespace);
  onTestFinished(() => log.close());
  return log;
}

const input = (key: string): InvalidationInput => ({ kind: 'invalidate', v: 1, keys: [key], tags: [], prefixes: [], source: 'purge', committedAt: 0 });

/** The ids of the log's entries on the replica. */
async function onReplica(log: RedisStreamLog): Promise<number[]> {
  return (await replicaClient.xrange(`${namespaces.get(log)!}{log}:events`, '-', '+')).map(([id]) => Number(id.split('-')[0]));
}

function paused(server: RedisServer): void {
  server.pause();
  onTestFinished(() => server.resume());
}

it('an append resolves once the replica holds it; with the replica frozen (SIGSTOP, still connected) WAIT gets no acknowledgement and publish rejects with log_unreplicated, until the replica is back', async () => {
  await attachReplica();
  const log = open({ wait: 'auto', timeoutMs: 2_000 });
  const first = await log.publish(input('a'));
  // Read from the replica at once: WAIT made the append wait for it.
  expect(await onReplica(log)).toEqual([first.id]);

  paused(replica);
  const failed = await log.publish(input('b')).catch((error: unknown) => error);
  expect(failed).toBeInstanceOf(FreshcacheError);
  expect(failed).toMatchObject({ code: 'log_unreplicated', status: 503 });
  expect(log.unreplicated).toBe(false);

  replica.resume();
  const again = await log.publish(input('b'));
  // The rejected append is in the log too (not lost, not acknowledged): appending it again is harmless.
  expect(await onReplica(log)).toEqual([first.id, first.id + 1, again.id]);
});

it('concurrent appends share their WAITs (one blocks its connection): 50 at once cost a few, each resolving only once the replica holds it; with the replica frozen every one of them rejects', async () => {
  await attachReplica();
  const log = open({ wait: 'auto', timeoutMs: 2_000 });
  await log.publish(input('first')); // learns that a replica is connected
  const waits = async () => Number(/cmdstat_wait:calls=(\d+)/.exec(await primaryClient.info('commandstats'))?.[1] ?? 0);
  const before = await waits();
  const events = await Promise.all(Array.from({ length: 50 }, (_, i) => log.publish(input(`k${i}`))));
  expect((await waits()) - before).toBeLessThanOrEqual(5);
  expect(await onReplica(log)).toEqual(expect.arrayContaining(events.map((event) => event.id)));

  paused(replica);
  const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => log.publish(input(`f${i}`))));
  expect(outcomes.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as FreshcacheError).code : 'resolved'))).toEqual(Array(10).fill('log_unreplicated'));
});

it('the relay acknowledges an outbox row only once its event is replicated: with the replica frozen the row stays and the relay retries; after SIGCONT the event is published and the row deleted', async () => {
  await attachReplica();
  const sql = await testSqlClient();
  await sql.db.exec('CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL)');
  await installOutbox(sql, ['users']);
  const log = open({ wait: 'auto', timeoutMs: 2_000 });
  const errors: unknown[] = [];
  const feed = new OutboxFeed({ sql, tables: ['users'], pollMs: 50, onError: (error) => errors.push(error) });
  const published: InvalidationEvent[] = [];
  const relay = new Relay({ feed, log, map: compileRules([{ table: 'users', key: 'user:{id}' }], { primaryKeyOf: () => ['id'] }).map, onPublished: (event) => published.push(event) });
  await relay.start();
  onTestFinished(() => relay.stop());
  const outboxRows = async () => Number((await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${OUTBOX_TABLE}`)).rows[0]!.n);

  paused(replica);
  await sql.query(`INSERT INTO users VALUES (1, 'Ada')`);
  await expect.poll(() => errors.filter((error) => (error as FreshcacheError).code === 'log_unreplicated').length, WAIT).toBeGreaterThanOrEqual(2);
  expect(published).toEqual([]);
  expect(await outboxRows()).toBe(1);

  replica.resume();
  await expect.poll(() => published.map((event) => event.keys), WAIT).toEqual([['user:1']]);
  await expect.poll(outboxRows, WAIT).toBe(0);
  expect(await onReplica(log)).toContain(published[0]!.id);
});

it('with no replica connected (auto) appends go on at once, unreplicated, said once; they wait again as soon as a replica is connected', async () => {
  await detachReplica();
  const changes: boolean[] = [];
  // A WAIT with no replica would hang this test: it does not wait.
  const log = open({ wait: 'auto', timeoutMs: 600_000 }, ({ unreplicated }) => changes.push(unreplicated));
  await log.publish(input('a'));
  await log.publish(input('b'));
  expect(log.unreplicated).toBe(true);
  expect(changes).toEqual([true]);

  await attachReplica();
  const next = await log.publish(input('c'));
  expect(log.unreplicated).toBe(false);
  expect(changes).toEqual([true, false]);
  expect(await onReplica(log)).toContain(next.id);
  // Connected again, it waits again: a frozen replica makes an append reject.
  paused(replica);
  const short = open({ wait: 'auto', timeoutMs: 2_000 }, undefined, namespaces.get(log));
  await expect(short.publish(input('d'))).rejects.toMatchObject({ code: 'log_unreplicated' });
});

it('always: no replica to confirm means rejected; never: acknowledged by the primary alone, even with the replica frozen', async () => {
  await detachReplica();
  await expect(open({ wait: 'always', timeoutMs: 100 }).publish(input('a'))).rejects.toMatchObject({ code: 'log_unreplicated' });
  await attachReplica();
  paused(replica);
  const never = open({ wait: 'never' });
  await expect(never.publish(input('b'))).resolves.toMatchObject({ keys: ['b'] });
  expect(never.unreplicated).toBe(false);
});

describe('on a Redis Cluster with a replica per primary', () => {
  const cluster = redisClusterForFile({ replicas: 1 });

  it('WAIT asks the primary that owns the log\'s slot: with that primary\'s replica frozen an append rejects, though every other primary\'s replica is fine', { timeout: 30_000 }, async () => {
    const { client, cluster: { servers } } = cluster();
    const namespace = `cluster${++logs}:`;
    const slot = Number(await client.cluster('KEYSLOT', `${namespace}{log}:events`));
    const owner = servers.find((node) => node.role === 'primary' && node.slots.some(([first, last]) => first <= slot && slot <= last))!;
    const ownersReplica = servers.find((node) => node.replicaOf === owner.name)!;
    const log = new RedisStreamLog({ redis: client, namespace, replication: { wait: 'auto', timeoutMs: 2_000 } });
    onTestFinished(() => log.close());

    const first = await log.publish(input('a'));
    const onOwnersReplica = new Redis({ host: ownersReplica.server.host, port: ownersReplica.server.port });
    onTestFinished(() => onOwnersReplica.disconnect());
    // A replica answers a read of its primary's slots once told READONLY.
    await onOwnersReplica.readonly();
    expect((await onOwnersReplica.xrange(`${namespace}{log}:events`, '-', '+')).map(([id]) => Number(id.split('-')[0]))).toEqual([first.id]);
    expect(log.unreplicated).toBe(false);

    // A WAIT sent to any other node would count that node's replica (it owes it nothing): 1.
    paused(ownersReplica.server);
    await expect(log.publish(input('b'))).rejects.toMatchObject({ code: 'log_unreplicated' });
  });
});

it('an append no replica confirmed still counts as appended for the epoch: if a failover then loses it, the retry starts a new epoch (readers may have read the lost one)', async () => {
  await attachReplica();
  const log = open({ wait: 'auto', timeoutMs: 2_000 });
  const kept = await log.publish(input('a'));
  const stream = `${namespaces.get(log)!}{log}:events`;
  const counter = `${namespaces.get(log)!}{log}:last`;
  // What the replica would hold if the primary died now.
  const [streamAtA, counterAtA] = await Promise.all([primaryClient.dumpBuffer(stream), primaryClient.dumpBuffer(counter)]);
  paused(replica);
  await expect(log.publish(input('b'))).rejects.toMatchObject({ code: 'log_unreplicated' });
  replica.resume();
  // The failover: the log is back to what was replicated.
  await primaryClient.restore(stream, 0, streamAtA!, 'REPLACE');
  await primaryClient.restore(counter, 0, counterAtA!, 'REPLACE');
  const retried = await log.publish(input('b'));
  expect(retried.id).toBe(kept.id + 1);
  expect(retried.epoch).toBeGreaterThan(0);
});
