import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection } from '../../packages/freshcache/src/adapters/redis/redis-connection.js';
import { slotKey } from '../../packages/freshcache/src/adapters/redis/redis-keys.js';
import { RedisStore } from '../../packages/freshcache/src/adapters/redis/redis-store.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { startRedisCluster } from '../testkit/redis-cluster.js';
import { startRedis } from '../testkit/redis-server.js';
import { entry, fillLeaseContract, storeContract, walk } from '../../packages/freshcache/src/testing/store-contract.js';

/**
 * The Store contract, unchanged, against a real redis-server and a real 3-node Redis Cluster
 * this file starts (one of each for the file). Each test gets its own namespace: tests never
 * see each other's keys and nothing is wiped.
 */
interface Topology {
  name: string;
  start(): Promise<{ client: Redis | Cluster; stop(): Promise<void> }>;
}

const topologies: Topology[] = [
  {
    name: 'standalone',
    async start() {
      const server = await startRedis();
      const client = createRedisConnection({ url: server.url });
      return { client, stop: server.stop };
    },
  },
  {
    name: 'cluster',
    async start() {
      const cluster = await startRedisCluster();
      const client = createRedisConnection({ cluster: cluster.nodes });
      return { client, stop: cluster.stop };
    },
  },
];

/** Keys whose braces, glob characters or bytes could confuse the layout. */
const awkwardKeys = ['plain', '{', '}', '}leading', 'a}b', '{a}b', 'x{y}z', '{}', '}{', 'glob*?[x]\\', '\\', '\\}', 'ünïcødé', '日本語', '🔑:{emoji}'];

/** Every server of the topology: the masters of a cluster, or the standalone server. */
function nodesOf(client: Redis | Cluster): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

async function resetCommandStats(client: Redis | Cluster): Promise<void> {
  await Promise.all(nodesOf(client).map((node) => node.config('RESETSTAT')));
}

/** Calls of each command since the last reset, summed over every server. */
async function commandCalls(client: Redis | Cluster): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const info of await Promise.all(nodesOf(client).map((node) => node.info('commandstats')))) {
    for (const [, command, count] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[command!] = (calls[command!] ?? 0) + Number(count);
  }
  return calls;
}

let namespaces = 0;
const namespace = () => `t${++namespaces}:`;

for (const topology of topologies) {
  describe(`RedisStore (${topology.name})`, () => {
    let client: Redis | Cluster;
    let stop: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ client, stop } = await topology.start());
      if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    });

    afterAll(async () => {
      client?.disconnect();
      await stop?.();
    });

    storeContract(`RedisStore (${topology.name})`, async (clock) => new RedisStore({ redis: client, clock, prefix: namespace() }), () => new ManualClock());
    fillLeaseContract(`RedisStore (${topology.name})`, async (clock) => new RedisStore({ redis: client, clock, prefix: namespace() }), () => new ManualClock(Date.now()));

    it('Redis itself expires an entry at its hard expiry', async () => {
      const clock = new ManualClock(Date.now());
      const prefix = namespace();
      const store = new RedisStore({ redis: client, clock, prefix });
      await store.set('k', entry('v', { expiresAt: clock.now() + 5_000 }, clock));
      const ttl = await client.pttl(slotKey(prefix, 'k'));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(5_000);
    });

    it("scan, size and clear give back the user's keys, whatever characters they hold", async () => {
      const clock = new ManualClock();
      const prefix = namespace();
      const store = new RedisStore({ redis: client, clock, prefix });
      for (const key of awkwardKeys) await store.set(key, entry(key, {}, clock));
      // A companion key must not be listed as an entry.
      await client.set(slotKey(prefix, 'plain', ':lease'), 'node-1');

      const all = await walk(store, { limit: 1000 });
      expect([...all.seen.keys()].sort()).toEqual([...awkwardKeys].sort());
      for (const prefixOfKey of ['}', '\\', '{', 'glob*?[', 'ü', 'x{y']) {
        const page = await walk(store, { prefix: prefixOfKey, limit: 1000 });
        expect([...page.seen.keys()].sort(), `prefix ${prefixOfKey}`).toEqual(awkwardKeys.filter((k) => k.startsWith(prefixOfKey)).sort());
      }
      for (const key of awkwardKeys) expect((await store.get(key))?.value, key).toBe(key);
      expect((await store.size()).entries).toBe(awkwardKeys.length);

      await store.clear();
      expect(await store.size()).toEqual({ entries: 0, bytes: 0 });
    });

    it('a walk of 3,000 keys costs one SCAN step per page and one GET per key found (INFO commandstats)', async () => {
      const clock = new ManualClock();
      const store = new RedisStore({ redis: client, clock, prefix: namespace() });
      const keys = Array.from({ length: 3000 }, (_, i) => `item:${i}`);
      await Promise.all(keys.map((k) => store.set(k, entry(k, {}, clock))));
      await resetCommandStats(client);
      const { seen, returned, pages } = await walk(store, { prefix: 'item:', limit: 200 });
      const calls = await commandCalls(client);
      expect(seen.size).toBe(3000);
      // One SCAN step per call: a page never walks the whole namespace again (it used to, so
      // this walk cost pages x (keys / 500) SCANs and a caller read each key once more).
      expect(calls.scan).toBe(pages);
      // Each GET fetched an entry this walk returned (pipelined per node), and no key was read twice.
      expect(calls.get).toBe(returned.length);
      // Every page examines about 200 keys of the node it is on, so the walk takes about
      // (keys in Redis) / 200 pages, plus one last step per node. Twice that leaves room for
      // SCAN's COUNT being a hint, and stays far below what a walk per page would cost.
      const keysInRedis = (await Promise.all(nodesOf(client).map((node) => node.dbsize()))).reduce((a, b) => a + b, 0);
      expect(pages).toBeLessThanOrEqual(2 * Math.ceil(keysInRedis / 200) + nodesOf(client).length);
    });

    it('a dry run and a key explorer walk over Redis read each key once', async () => {
      const clock = new ManualClock(Date.now());
      const l2 = new RedisStore({ redis: client, clock, prefix: namespace() });
      const cache = new TieredCache({ clock, l2, l1: new MemoryStore({ clock, maxEntries: 100 }) });
      const keys = Array.from({ length: 2000 }, (_, i) => `item:${i}`);
      await Promise.all(keys.map((k, i) => cache.set(k, i, { tags: i % 2 === 0 ? ['even'] : [] })));

      await resetCommandStats(client);
      const dryRun = await cache.matching({ tags: ['even'] });
      expect(dryRun).toMatchObject({ total: 1000, partial: false });
      expect((await commandCalls(client)).get).toBe(2000);

      await resetCommandStats(client);
      const listed = new Set<string>();
      let cursor: string | undefined;
      do {
        const page = await cache.scan({ prefix: 'item:', cursor, limit: 100 });
        for (const item of page.items) listed.add(item.key);
        cursor = page.cursor;
      } while (cursor !== undefined);
      expect(listed.size).toBe(2000);
      expect((await commandCalls(client)).get).toBe(2000);
    });

    it('rejects a cursor of the wrong shape with bad_request', async () => {
      const store = new RedisStore({ redis: client, prefix: namespace() });
      const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const tooBig = (2n ** 64n).toString();
      for (const bad of [cursor({ node: 1, cursor: '0' }), cursor({ node: '', cursor: 'x' }), cursor({ node: '', cursor: tooBig }), cursor(null), cursor('text')]) {
        await expect(store.scan({ cursor: bad, limit: 10 })).rejects.toMatchObject({ code: 'bad_request' });
      }
    });

    it('refuses a namespace with braces, which would move the hash tag', () => {
      expect(() => new RedisStore({ redis: client, prefix: 'app{1}:' })).toThrow(/contains a brace/);
      expect(() => slotKey('ns:', 'k', ':{lease}')).toThrow(/contains a brace/);
    });

    if (topology.name === 'cluster') {
      it('an entry and its companion keys are in one hash slot, for any key (CLUSTER KEYSLOT)', async () => {
        const cluster = client as Cluster;
        const slots = new Set<number>();
        for (const key of [...awkwardKeys, '']) {
          const entrySlot = await cluster.cluster('KEYSLOT', slotKey('fc:', key));
          const leaseSlot = await cluster.cluster('KEYSLOT', slotKey('fc:', key, ':lease'));
          const otherNamespace = await cluster.cluster('KEYSLOT', slotKey('other:', key, ':marks'));
          expect([leaseSlot, otherNamespace], JSON.stringify(key)).toEqual([entrySlot, entrySlot]);
          slots.add(entrySlot);
        }
        // The slot follows the key, not the namespace: different keys spread over the cluster.
        expect(slots.size).toBeGreaterThan(5);
      });

      it('stores entries on every master: the keys are spread by slot', async () => {
        const clock = new ManualClock();
        const store = new RedisStore({ redis: client, clock, prefix: namespace() });
        for (let i = 0; i < 60; i++) await store.set(`user:${i}`, entry(i, {}, clock));
        const perNode = await Promise.all((client as Cluster).nodes('master').map((node) => node.dbsize()));
        expect(perNode).toHaveLength(3);
        for (const count of perNode) expect(count).toBeGreaterThan(0);
        expect((await store.size()).entries).toBe(60);
      });
    }
  });
}
