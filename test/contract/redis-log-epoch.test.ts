import { expect, it, onTestFinished } from 'vitest';
import type { Redis } from 'ioredis';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { RedisStreamLog } from '../../packages/freshcache/src/adapters/redis/redis-stream-log.js';
import type { InvalidationEvent, InvalidationInput } from '../../packages/freshcache/src/seams/invalidation-log.js';
import { eventCollector } from '../../packages/freshcache/src/testing/invalidation-log-contract.js';
import { redisForFile } from '../testkit/redis-server.js';

/**
 * The log's epoch, on a real redis-server: a log that moves backwards (what a failover that lost
 * the tail, or a restore of an older copy, leaves) is detected even though its next appends reuse
 * ids the readers already hold. Redis only: the memory log cannot move backwards.
 */
const redisOfFile = redisForFile();
let logs = 0;

const input = (key: string): InvalidationInput => ({ kind: 'invalidate', v: 1, keys: [key], tags: [], prefixes: [], source: 'purge', committedAt: 0 });

function open(namespace: string): RedisStreamLog {
  // 'never': this file is about epochs; the standalone server has no replica to wait for.
  const log = new RedisStreamLog({ redis: redisOfFile().client, namespace, blockMs: 100, replication: { wait: 'never' } });
  onTestFinished(() => log.close());
  return log;
}

/**
 * A copy of the log's keys as they are now; `restore()` puts them back, as a failover that lost
 * the tail (the replica had them only up to here) or a restore of a backup would: the stream
 * with its last id, the counter, the epoch.
 */
async function snapshot(redis: Redis, namespace: string): Promise<{ restore: () => Promise<void> }> {
  const keys = await redis.keys(`${namespace}{log}:*`);
  const dumps = await Promise.all(keys.map(async (key) => [key, await redis.dumpBuffer(key)] as const));
  return {
    restore: async () => {
      await redis.del(...keys, `${namespace}{log}:epoch`);
      for (const [key, dump] of dumps) if (dump) await redis.restore(key, 0, dump);
    },
  };
}

it('a log moved back (the tail lost) whose next appends reuse ids a reader holds: the publisher starts a new epoch, the reader reports an epoch gap, then reads the new events under those ids', async () => {
  const namespace = `epoch${++logs}:`;
  const log = open(namespace);
  const old: InvalidationEvent[] = [];
  for (let i = 1; i <= 5; i++) old.push(await log.publish(input(`old${i}`)));
  const atFive = await snapshot(redisOfFile().client, namespace);
  for (let i = 6; i <= 10; i++) old.push(await log.publish(input(`old${i}`)));
  expect(old.every((event) => event.epoch === undefined)).toBe(true);
  const reader = eventCollector();
  open(namespace).subscribe({ afterId: old[0]!.id - 1, ...reader });
  await reader.until(() => reader.events.length === 10);

  await atFive.restore();
  const reused = await log.publishMany([input('new6'), input('new7'), input('new8')]);
  // Ids 6..8 again, in an epoch numbered above the last id this publisher appended.
  expect(reused.map((event) => event.id)).toEqual(old.slice(5, 8).map((event) => event.id));
  expect(reused[0]!.epoch).toBeGreaterThan(old[9]!.id);
  expect(new Set(reused.map((event) => event.epoch)).size).toBe(1);

  await reader.until(() => reader.keys().includes('new8'));
  expect(reader.gaps).toEqual([{ reason: 'epoch', afterId: old[9]!.id, oldestRetainedId: 0 }]);
  // After the gap, the new events under the reused ids, each once, in order, with their epoch.
  expect(reader.events.slice(10).map((event) => [event.id, event.keys[0], event.epoch])).toEqual(reused.map((event) => [event.id, event.keys[0], event.epoch]));

  // The epoch holds: appends go on in it without another gap, and a reader starting now reads them as one epoch.
  const next = await log.publish(input('new9'));
  expect(next).toMatchObject({ id: old[8]!.id, epoch: reused[0]!.epoch });
  await reader.until(() => reader.keys().includes('new9'));
  expect(reader.gaps).toHaveLength(1);
  const late = eventCollector();
  open(namespace).subscribe({ afterId: old[4]!.id, ...late });
  await late.until(() => late.events.length === 4);
  expect(late.gaps).toEqual([]);
});

it('a log moved back whose new appends at once reach past a reader\'s cursor (ids alone look consecutive): the reader reports an epoch gap and reads every new event from the epoch\'s start', async () => {
  const namespace = `epochgrown${++logs}:`;
  const log = open(namespace);
  const old: InvalidationEvent[] = [];
  for (let i = 1; i <= 5; i++) old.push(await log.publish(input(`old${i}`)));
  const atFive = await snapshot(redisOfFile().client, namespace);
  for (let i = 6; i <= 10; i++) old.push(await log.publish(input(`old${i}`)));
  const reader = eventCollector();
  open(namespace).subscribe({ afterId: old[0]!.id - 1, ...reader });
  await reader.until(() => reader.events.length === 10);

  await atFive.restore();
  // Ids 6..12 in one append: the reader, after 10, is handed 11 and 12, which follow its cursor.
  const fresh = await log.publishMany([6, 7, 8, 9, 10, 11, 12].map((n) => input(`new${n}`)));
  await reader.until(() => reader.keys().includes('new12'));
  expect(reader.gaps.map((gap) => gap.reason)).toEqual(['epoch']);
  expect(reader.keys().slice(10)).toEqual(fresh.map((event) => event.keys[0]));
});

it('a node following the log flushes on an epoch gap ("log epoch"), so it no longer serves what the lost tail and the reused ids invalidated', async () => {
  const namespace = `epochnode${++logs}:`;
  const log = open(namespace);
  const flushes: string[] = [];
  const applied: InvalidationEvent[] = [];
  let ready = () => {};
  const started = new Promise<void>((resolve) => (ready = resolve));
  const followed = new RedisStreamLog({ redis: redisOfFile().client, namespace, blockMs: 100, replication: { wait: 'never' } });
  const cache = createCache({
    l1: { maxEntries: 100 },
    invalidations: { log: followed, region: 'r', registry: false, onReady: () => ready(), onApplied: (event) => applied.push(event), onFlushed: (reason) => flushes.push(reason) },
  });
  onTestFinished(() => cache.close());
  await started;
  const old: InvalidationEvent[] = [];
  for (let i = 1; i <= 5; i++) old.push(await log.publish(input(`old${i}`)));
  const atFive = await snapshot(redisOfFile().client, namespace);
  for (let i = 6; i <= 10; i++) old.push(await log.publish(input(`old${i}`)));
  await expect.poll(() => applied.length).toBe(10);
  // Cached after event 10: only an event after it can make it stale.
  await cache.getOrLoad('user:1', async () => 'before');

  await atFive.restore();
  // The new event 6 invalidates user:1; the node holds an event 6 already (old6), and reads after 10.
  await log.publish(input('user:1'));
  await expect.poll(() => flushes, { timeout: 10_000, interval: 20 }).toEqual(['log epoch']);
  expect(await cache.getOrLoad('user:1', async () => 'after')).toBe('after');
});

it('two publishers that both appended past the point the log moved back to start one epoch between them, not one each: readers flush once', async () => {
  const namespace = `epochtwo${++logs}:`;
  const relay = open(namespace);
  const purger = open(namespace);
  const old: InvalidationEvent[] = [];
  for (let i = 1; i <= 5; i++) old.push(await relay.publish(input(`old${i}`)));
  const atFive = await snapshot(redisOfFile().client, namespace);
  for (let i = 6; i <= 8; i++) old.push(await relay.publish(input(`old${i}`)));
  for (let i = 9; i <= 10; i++) old.push(await purger.publish(input(`old${i}`)));
  const reader = eventCollector();
  open(namespace).subscribe({ afterId: old[0]!.id - 1, ...reader });
  await reader.until(() => reader.events.length === 10);

  await atFive.restore();
  const [fromRelay] = await relay.publishMany([input('new6')]);
  // The purger's last append (10) is above the log's last id too, but the log is already in a newer epoch than that append's.
  const fromPurger = await purger.publish(input('new7'));
  expect(fromPurger).toMatchObject({ id: fromRelay!.id + 1, epoch: fromRelay!.epoch });
  await reader.until(() => reader.keys().includes('new7'));
  expect(reader.gaps.map((gap) => gap.reason)).toEqual(['epoch']);
});

it('a publisher whose own epoch was lost (the log moved back past the epoch\'s start) starts a newer one', async () => {
  const namespace = `epochlost${++logs}:`;
  const log = open(namespace);
  const old: InvalidationEvent[] = [];
  for (let i = 1; i <= 5; i++) old.push(await log.publish(input(`old${i}`)));
  const atFive = await snapshot(redisOfFile().client, namespace);
  for (let i = 6; i <= 10; i++) old.push(await log.publish(input(`old${i}`)));
  await atFive.restore();
  const first = await log.publishMany([input('a6'), input('a7'), input('a8')]);
  // Back to 5 again: the epoch that started at 6 is gone with it.
  await atFive.restore();
  const second = await log.publish(input('b6'));
  expect(second.id).toBe(first[0]!.id);
  expect(second.epoch).toBeGreaterThan(first[0]!.epoch!);
});
