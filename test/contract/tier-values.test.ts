import { Redis } from 'ioredis';
import type { Cluster } from 'ioredis';
import { createRedisConnection } from '../../packages/freshcache/src/adapters/redis/redis-connection.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { slotKey } from '../../packages/freshcache/src/adapters/redis/redis-keys.js';
import { RedisStore } from '../../packages/freshcache/src/adapters/redis/redis-store.js';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { typedJsonSerializer } from '../../packages/freshcache/src/engine/typed-json-serializer.js';
import type { Clock } from '../../packages/freshcache/src/engine/clock.js';
import type { Serializer } from '../../packages/freshcache/src/seams/serializer.js';
import { entry } from '../../packages/freshcache/src/testing/store-contract.js';
import { tierValuesContract } from '../../packages/freshcache/src/testing/tier-values-contract.js';
import { startRedisCluster } from '../testkit/redis-cluster.js';
import type { RedisCluster } from '../testkit/redis-cluster.js';
import { startRedis } from '../testkit/redis-server.js';
import type { RedisServer } from '../testkit/redis-server.js';

/**
 * Values come back the same from every tier: over the embedded L2 (a memory store keeping the
 * serializer's text) and over a real redis-server and a 3-node Redis Cluster this file starts
 * (two clients of one namespace each).
 */
tierValuesContract('memory L2', async (clock) => {
  const l2 = new MemoryStore({ name: 'l2', shared: true, clock, serializer: typedJsonSerializer });
  return { a: l2, b: l2, close: () => l2.close() };
});

let server: RedisServer;
const clients: Redis[] = [];
let namespaces = 0;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await server?.stop();
});

/** Two RedisStores on their own connections, over a namespace no other test uses. */
function redisPair(clock?: Clock) {
  const prefix = `tv${++namespaces}:`;
  const store = () => {
    const client = new Redis(server.url);
    clients.push(client);
    return { client, store: new RedisStore({ redis: client, prefix, clock }) };
  };
  return { prefix, a: store(), b: store() };
}

tierValuesContract('Redis L2', async (clock) => {
  const { a, b } = redisPair(clock);
  return { a: a.store, b: b.store, close: async () => {} };
});

let cluster: RedisCluster;
const clusterClients: Cluster[] = [];
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  for (const client of clusterClients) client.disconnect();
  await cluster?.stop();
});

tierValuesContract('Redis Cluster L2', async (clock) => {
  const prefix = `tvc${++namespaces}:`;
  const store = () => {
    const client = createRedisConnection({ cluster: cluster.nodes });
    clusterClients.push(client);
    return new RedisStore({ redis: client, prefix, clock });
  };
  return { a: store(), b: store(), close: async () => {} };
});

describe('RedisStore entries across releases (a rolling upgrade)', () => {
  it('reads an entry an older node wrote as plain JSON', async () => {
    const { prefix, a } = redisPair();
    const old = entry({ id: 1, at: '2026-01-02T03:04:05.678Z', list: [1, 'two'] });
    await a.client.set(slotKey(prefix, 'row:1'), JSON.stringify(old));
    expect(await a.store.get('row:1')).toStrictEqual(old);
  });

  it('writes a plain JSON entry byte for byte as older nodes did, and typed values as JSON older nodes read', async () => {
    const { prefix, a } = redisPair();
    const plain = entry({ id: 1, list: [1, 'two', null] });
    await a.store.set('plain', plain);
    expect(await a.client.get(slotKey(prefix, 'plain'))).toBe(JSON.stringify(plain));
    // What an older node does with a newer node's entry: JSON.parse, then read `value`.
    await a.store.set('typed', entry({ id: 7n, at: new Date('2026-01-02T03:04:05.678Z') }));
    const asOlderNodesSeeIt = JSON.parse((await a.client.get(slotKey(prefix, 'typed')))!) as { value: unknown };
    expect(asOlderNodesSeeIt.value).toStrictEqual({ id: '7', at: '2026-01-02T03:04:05.678Z' });
  });

  it('reads a record it cannot decode (another serializer wrote it) as a miss, which the next fill replaces', async () => {
    const { prefix, a } = redisPair();
    await a.client.set(slotKey(prefix, 'row:1'), 'not the text of an entry');
    expect(await a.store.get('row:1')).toBeUndefined();
    const cache = createCache({ l2: a.store });
    expect(await cache.getOrLoad('row:1', () => ({ id: 1 }))).toEqual({ id: 1 });
    expect((await a.store.get('row:1'))?.value).toEqual({ id: 1 });
    await cache.close();
  });
});

describe("createCache's memory L2", () => {
  it("keeps the serializer's text, so it hands out copies with their types, never the loader's object", async () => {
    const cache = createCache({ l2: 'memory' });
    const loaded = { at: new Date(5), n: 5n, tags: ['a'] };
    await cache.getOrLoad('k', () => loaded);
    loaded.tags.push('changed after the fill');
    const { value } = (await cache.l2!.get('k'))!;
    expect(value).not.toBe(loaded);
    expect(value).toStrictEqual({ at: new Date(5), n: 5n, tags: ['a'] });
    await cache.close();
  });

  it('uses the serializer given to createCache', async () => {
    const written: unknown[] = [];
    const serializer: Serializer = {
      serialize: (value) => {
        written.push(value);
        return typedJsonSerializer.serialize(value);
      },
      deserialize: (text) => typedJsonSerializer.deserialize(text),
    };
    const cache = createCache({ l2: 'memory', serializer });
    await cache.getOrLoad('k', () => ({ id: 1 }));
    expect(written).toContainEqual({ id: 1 });
    await cache.close();
  });
});
