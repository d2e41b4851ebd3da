import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { RedisStreamLog, UNREADABLE } from '../../packages/freshcache/src/adapters/redis/redis-stream-log.js';
import { unknownEvent } from '../../packages/freshcache/src/seams/invalidation-log.js';
import { redisClusterForFile } from '../testkit/redis-cluster.js';
import { redisForFile, startRedis } from '../testkit/redis-server.js';
import { eventCollector, invalidationLogContract } from '../../packages/freshcache/src/testing/invalidation-log-contract.js';

/** The InvalidationLog contract, unchanged, against a real redis-server this file starts. */
const redisOfFile = redisForFile();
let logs = 0;

// Each test its own namespace, so tests never see each other's events.
invalidationLogContract('RedisStreamLog (standalone)', async ({ retain, retryAfterMs }) =>
  new RedisStreamLog({ redis: redisOfFile().client, retain, claimAfterMs: retryAfterMs, namespace: `t${++logs}:` }),
);

/**
 * The same contract on a 3-node Redis Cluster (one for the file): the log's keys share one hash
 * slot, and each reader blocks on a duplicate of the Cluster client.
 */
describe('RedisStreamLog on a Redis Cluster', () => {
  const cluster = redisClusterForFile();

  invalidationLogContract('RedisStreamLog (cluster)', async ({ retain, retryAfterMs }) =>
    new RedisStreamLog({ redis: cluster().client, retain, claimAfterMs: retryAfterMs, namespace: `c${++logs}:` }),
  );

  it('closes at once readers whose connections are still connecting', { timeout: 10_000 }, async () => {
    // ioredis never ends a Cluster client disconnected while it connects; close() must not wait on it.
    const log = new RedisStreamLog({ redis: cluster().client, namespace: `early${++logs}:` });
    await log.consume({ group: 'g', consumer: 'n', onEvent: async () => {} });
    log.subscribe({ afterId: 0, ...eventCollector() });
    await log.close();
  });

  it('keeps all of its keys in one hash slot (CLUSTER KEYSLOT)', async () => {
    const namespace = `slot${++logs}:`;
    const slots = await Promise.all(['events', 'last', 'first'].map((name) => cluster().client.cluster('KEYSLOT', `${namespace}{log}:${name}`)));
    expect(new Set(slots).size).toBe(1);
  });
});

describe('RedisStreamLog on Redis', () => {
  const input = (key: string) => ({ kind: 'invalidate' as const, v: 1, keys: [key], tags: [], prefixes: [], source: 'purge' as const, committedAt: 0 });

  it('reads an event written by a node from before kinds and format versions as a version 1 invalidate', async () => {
    const namespace = `old${++logs}:`;
    const redis = redisOfFile().client;
    const log = new RedisStreamLog({ redis, namespace, blockMs: 100 });
    onTestFinished(() => log.close());
    const grouped = eventCollector();
    await log.consume({ group: 'r', consumer: 'n', onEvent: async (event) => grouped.onEvent(event) });
    const first = await log.publish(input('new'));
    const got = eventCollector();
    log.subscribe({ afterId: first.id - 1, ...got });
    // What an older node's publish wrote: the next id, and a body without kind or v.
    const old = { keys: ['old'], tags: ['t'], prefixes: [], source: 'cdc', version: 7, committedAt: 1, publishedAt: 2 };
    const id = await redis.incr(`${namespace}{log}:last`);
    await redis.xadd(`${namespace}{log}:events`, `${id}-0`, 'e', JSON.stringify(old));
    await got.until(() => got.events.length === 2);
    await grouped.until(() => grouped.events.length === 2);
    expect(got.events[1]).toEqual({ ...old, kind: 'invalidate', v: 1, id });
    expect(grouped.events[1]).toEqual({ ...old, kind: 'invalidate', v: 1, id });
  });

  it('hands on an entry it cannot decode as an event of unknown kind, and reads on past it', async () => {
    const namespace = `bad${++logs}:`;
    const redis = redisOfFile().client;
    const log = new RedisStreamLog({ redis, namespace, blockMs: 100 });
    onTestFinished(() => log.close());
    const grouped = eventCollector();
    await log.consume({ group: 'r', consumer: 'n', onEvent: async (event) => grouped.onEvent(event) });
    const first = await log.publish(input('first'));
    const got = eventCollector();
    log.subscribe({ afterId: first.id - 1, ...got });
    // What a later release might write: the body under another field, or not as JSON.
    for (const fields of [['body', '{}'], ['e', 'not json']]) {
      const id = await redis.incr(`${namespace}{log}:last`);
      await redis.xadd(`${namespace}{log}:events`, `${id}-0`, ...fields);
    }
    await log.publish(input('after'));
    for (const reader of [got, grouped]) {
      await reader.until(() => reader.events.length === 4);
      expect(reader.events.map((e) => [e.id - first.id, e.kind, unknownEvent(e) !== undefined])).toEqual([
        [0, 'invalidate', false],
        [1, UNREADABLE, true],
        [2, UNREADABLE, true],
        [3, 'invalidate', false],
      ]);
    }
    expect(got.gaps).toEqual([]);
  });

  it("hands a dead consumer's unacknowledged events to a live consumer of its group", async () => {
    const namespace = `claim${++logs}:`;
    const log = new RedisStreamLog({ redis: redisOfFile().client, namespace, claimAfterMs: 200, blockMs: 100 });
    onTestFinished(() => log.close());
    const stream = `${namespace}{log}:events`;
    await redisOfFile().client.xgroup('CREATE', stream, 'us-east', '$', 'MKSTREAM');
    await log.publish(input('k1'));
    // The dead node: it read the event as a group member and was killed before acknowledging it.
    const taken = (await redisOfFile().client.xreadgroup('GROUP', 'us-east', 'dead', 'COUNT', 1, 'STREAMS', stream, '>')) as [string, unknown[]][];
    expect(taken[0]![1]).toHaveLength(1);
    // A live node joins later: the event is no longer new, so only a claim can bring it.
    const live = eventCollector();
    await log.consume({ group: 'us-east', consumer: 'live', onEvent: async (event) => live.onEvent(event) });
    await live.until(() => live.keys().includes('k1'));
    expect(live.keys()).toEqual(['k1']);
  });

  it('a group consumer closed with nothing pending leaves its group (a restart adds no name for good); one that still holds an event stays, for another to claim it', async () => {
    const namespace = `close${++logs}:`;
    const { client } = redisOfFile();
    const log = new RedisStreamLog({ redis: client, namespace, blockMs: 50, claimAfterMs: 60_000 });
    onTestFinished(() => log.close());
    const stream = `${namespace}{log}:events`;
    const names = async () => ((await client.xinfo('CONSUMERS', stream, 'g')) as unknown[][]).map((fields) => String(fields[fields.indexOf('name') + 1])).sort();
    const pending = async () => Number(((await client.xpending(stream, 'g')) as unknown[])[0]);
    const done = eventCollector();
    const idle = await log.consume({ group: 'g', consumer: 'idle', onEvent: async (event) => done.onEvent(event) });
    await log.publish(input('k1'));
    await done.until(() => done.keys().includes('k1'));
    await expect.poll(pending).toBe(0); // acknowledged
    await idle.close();
    expect(await names()).toEqual([]);

    const failing = await log.consume({ group: 'g', consumer: 'failing', onEvent: () => Promise.reject(new Error('cannot apply it')) });
    await log.publish(input('k2'));
    await expect.poll(pending).toBe(1);
    await failing.close();
    expect(await names()).toEqual(['failing']);
  });

  it('forgets the consumers of a group not named to keep that hold no event, and keeps one holding an event for another to claim', async () => {
    const namespace = `forget${++logs}:`;
    const { client } = redisOfFile();
    const log = new RedisStreamLog({ redis: client, namespace });
    onTestFinished(() => log.close());
    const stream = `${namespace}{log}:events`;
    expect(await log.forgetConsumers('g', [])).toEqual([]); // no group yet
    await client.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
    for (const name of ['live', 'killed', 'killed-holding']) await client.xgroup('CREATECONSUMER', stream, 'g', name);
    await log.publish(input('k1'));
    // Killed after it was handed k1, before acknowledging it.
    await client.xreadgroup('GROUP', 'g', 'killed-holding', 'COUNT', 1, 'STREAMS', stream, '>');
    expect(await log.forgetConsumers('g', ['live'])).toEqual(['killed']);
    const names = ((await client.xinfo('CONSUMERS', stream, 'g')) as unknown[][]).map((fields) => String(fields[fields.indexOf('name') + 1])).sort();
    expect(names).toEqual(['killed-holding', 'live']);
  });

  it('numbers on after the last entry if its counter key was lost (never reusing an id)', async () => {
    const namespace = `counter${++logs}:`;
    const log = new RedisStreamLog({ redis: redisOfFile().client, namespace });
    onTestFinished(() => log.close());
    await log.publish(input('a'));
    const second = await log.publish(input('b'));
    await redisOfFile().client.del(`${namespace}{log}:last`);
    const third = await log.publish(input('c'));
    expect(third.id).toBe(second.id + 1);
    expect(await log.lastId()).toBe(third.id);
  });
});

describe('RedisStreamLog when Redis goes away', () => {
  const input = (key: string) => ({ kind: 'invalidate' as const, v: 1, keys: [key], tags: [], prefixes: [], source: 'purge' as const, committedAt: 0 });

  it('a reader cut off longer than its bound reports a gap; a log lost with a restart is a reset, and numbering goes on above the old ids', async () => {
    const own = await startRedis(); // no persistence: a restart loses the log
    onTestFinished(() => own.stop());
    const redis = new Redis(own.url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    onTestFinished(() => redis.disconnect());
    const log = new RedisStreamLog({ redis, cutOffMs: 300, blockMs: 100 });
    onTestFinished(() => log.close());
    const got = eventCollector();
    log.subscribe({ afterId: 0, ...got });
    const before = await log.publish(input('a'));
    await got.until(() => got.events.length === 1);

    await own.kill();
    await got.until(() => got.gaps.some((g) => g.reason === 'disconnected'));
    await own.restart();
    await got.until(() => got.gaps.some((g) => g.reason === 'reset'));
    const after = await log.publish(input('b'));
    expect(after.id).toBeGreaterThan(before.id);
    await got.until(() => got.keys().includes('b'));
    expect(got.gaps.map((g) => g.reason)).toContain('disconnected');
  });

  it('a reader whose Redis freezes with its socket open (SIGSTOP) reports the cut-off before its hung read times out, and reads on after SIGCONT, reporting that it reconnected', async () => {
    const own = await startRedis();
    onTestFinished(() => own.stop());
    const redis = new Redis(own.url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    onTestFinished(() => redis.disconnect());
    // The order of what the reader says: the cut-off must not wait for a closed socket or a
    // command's timeout (the hung read fails only after its block time + 2 s).
    const said: string[] = [];
    const log = new RedisStreamLog({ redis, onError: () => said.push('read failed') }); // the default cut-off
    onTestFinished(() => log.close());
    const got = eventCollector();
    log.subscribe({
      afterId: 0,
      onEvent: got.onEvent,
      onGap: (gap) => {
        said.push(`gap ${gap.reason}`);
        got.onGap(gap);
      },
    });
    await log.publish(input('a'));
    await got.until(() => got.events.length === 1);

    own.pause();
    await got.until(() => got.gaps.some((g) => g.reason === 'disconnected'));
    expect(said[0]).toBe('gap disconnected');
    own.resume();
    // Redis kept its data: the reader goes on from its cursor, no reset.
    await log.publish(input('b'));
    await got.until(() => got.keys().includes('b'));
    expect(got.keys()).toEqual(['a', 'b']);
    expect(got.gaps.map((g) => g.reason)).not.toContain('reset');
    // Once, after every cut-off it reported: what it loaded while cut off may yet be invalidated
    // by changes that reach the log only now.
    const gaps = said.filter((line) => line.startsWith('gap'));
    expect(gaps.at(-1)).toBe('gap reconnected');
    expect(gaps.filter((line) => line === 'gap reconnected')).toHaveLength(1);
  });

  it('a reader of a healthy log whose process stalls past the cut-off (a long GC or a CPU-bound handler) does not report one: the answer waiting on its socket counts first', async () => {
    const { client } = redisOfFile();
    const namespace = `stall${++logs}:`;
    const log = new RedisStreamLog({ redis: client, namespace, cutOffMs: 400 });
    onTestFinished(() => log.close());
    const got = eventCollector();
    const xreads = async () => Number(/cmdstat_xread:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
    log.subscribe({ afterId: 0, ...got });
    await log.publish(input('a'));
    await got.until(() => got.events.length === 1);
    const after = await xreads();
    while ((await xreads()) < after + 1); // the reader is in its next blocking read
    // That read (it blocks for 200 ms) has its answer on the socket, and the cut-off timer is
    // due, when the stall ends: Node runs due timers before it reads sockets.
    const stalledUntil = Date.now() + 700;
    while (Date.now() < stalledUntil);
    await log.publish(input('b'));
    await got.until(() => got.keys().includes('b'));
    expect(got.gaps).toEqual([]);
  });

  it('an idle reader of a healthy log never reports a cut-off, whatever its block time (blocking reads are capped at half the cut-off)', async () => {
    const { client } = redisOfFile();
    const namespace = `idle${++logs}:`;
    const log = new RedisStreamLog({ redis: client, namespace, cutOffMs: 1_000, blockMs: 5_000 });
    onTestFinished(() => log.close());
    const got = eventCollector();
    const xreads = async () => Number(/cmdstat_xread:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
    const before = await xreads();
    log.subscribe({ afterId: 0, ...got });
    // Four reads that blocked and came back empty: a reader whose read outlasts the cut-off
    // would have reported one by then.
    while ((await xreads()) < before + 4) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(got.gaps).toEqual([]);
  });
});
