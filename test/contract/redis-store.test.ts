import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection } from '../../src/adapters/redis/redis-connection.js';
import { slotKey } from '../../src/adapters/redis/redis-keys.js';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { ManualClock } from '../../src/engine/clock.js';
import { startRedisCluster } from '../testkit/redis-cluster.js';
import { startRedis } from '../testkit/redis-server.js';
import { entry, fillLeaseContract, storeContract } from './store-contract.js';

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

      const all = await store.scan({ limit: 1000 });
      expect(all.keys).toEqual([...awkwardKeys].sort());
      for (const prefixOfKey of ['}', '\\', '{', 'glob*?[', 'ü', 'x{y']) {
        const page = await store.scan({ prefix: prefixOfKey, limit: 1000 });
        expect(page.keys, `prefix ${prefixOfKey}`).toEqual(awkwardKeys.filter((k) => k.startsWith(prefixOfKey)).sort());
      }
      for (const key of awkwardKeys) expect((await store.get(key))?.value, key).toBe(key);
      expect((await store.size()).entries).toBe(awkwardKeys.length);

      await store.clear();
      expect(await store.size()).toEqual({ entries: 0, bytes: 0 });
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
