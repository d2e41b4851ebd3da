import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { startRedis } from '../testkit/redis-server.js';
import type { RedisServer } from '../testkit/redis-server.js';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import { openTopology, serverAppsOf } from '../testkit/test-topology.js';

/**
 * POST /api/invalidate on a server whose log's Redis has a replica: it answers 2xx only once the
 * replica holds the event (the log's WAIT), 503 log_unreplicated when no replica confirms; with no
 * replica at all it goes on, and says so in a gauge and a warning.
 */
let primary: RedisServer;
let replica: RedisServer;
let replicaClient: Redis;
const WAIT = { timeout: 15_000, interval: 20 };

beforeAll(async () => {
  [primary, replica] = await Promise.all([startRedis(), startRedis()]);
  const primaryClient = new Redis(primary.url);
  // Redis 7 waits 5 s for more replicas before a diskless full sync: there is only one here.
  await primaryClient.config('SET', 'repl-diskless-sync-delay', '0');
  primaryClient.disconnect();
  replicaClient = new Redis(replica.url);
});

afterAll(async () => {
  replicaClient?.disconnect();
  replica?.resume();
  await Promise.all([primary?.stop(), replica?.stop()]);
});

/** A server on the primary, with what it logs. */
async function serverOn(redis: RedisServer) {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  const topology = await openTopology({ config: { log: { kind: 'redis', redis: { url: redis.url }, replication: { timeoutMs: 200 } } }, logger });
  onTestFinished(() => topology.close());
  const app = await buildApp({ topology, apps: serverAppsOf(topology) });
  onTestFinished(() => app.close());
  const gauge = async () => /^freshcache_log_unreplicated (\d)$/m.exec((await app.inject('/metrics')).body)?.[1];
  const warnings = () => lines.filter((line) => line.level === 40 && /no connected replica/.test(line.msg));
  return { app, gauge, warnings };
}

const purge = { method: 'POST' as const, url: '/api/invalidate', payload: { keys: ['user:1'] } };

it('POST /api/invalidate answers 2xx once the replica holds the event, and 503 log_unreplicated while the replica is frozen (SIGSTOP)', async () => {
  await replicaClient.replicaof(primary.host, String(primary.port));
  onTestFinished(async () => void (await replicaClient.replicaof('NO', 'ONE')));
  await expect.poll(async () => /master_link_status:up/.test(await replicaClient.info('replication')), WAIT).toBe(true);
  const { app, gauge } = await serverOn(primary);
  const events = async () => (await replicaClient.keys('*{log}:events')).length > 0 ? await replicaClient.xlen((await replicaClient.keys('*{log}:events'))[0]!) : 0;

  const before = await events();
  const ok = await app.inject(purge);
  expect(ok.statusCode, ok.body).toBeLessThan(300);
  expect(await events()).toBe(before + 1);
  expect(await gauge()).toBe('0');

  replica.pause();
  onTestFinished(() => replica.resume());
  const refused = await app.inject(purge);
  expect(refused.statusCode, refused.body).toBe(503);
  expect(refused.json()).toEqual({ error: { code: 'log_unreplicated', message: expect.any(String) } });

  replica.resume();
  expect((await app.inject(purge)).statusCode).toBeLessThan(300);
});

it('with no replica connected, POST /api/invalidate goes on; the gauge freshcache_log_unreplicated is 1 and one warning is logged', async () => {
  const lone = await startRedis();
  onTestFinished(() => lone.stop());
  const { app, gauge, warnings } = await serverOn(lone);
  for (let i = 0; i < 3; i++) expect((await app.inject(purge)).statusCode).toBeLessThan(300);
  expect(await gauge()).toBe('1');
  expect(warnings()).toHaveLength(1);
});
