import { describe, expect, it } from 'vitest';
import { MemoryNodeRegistry } from '../../packages/freshcache/src/adapters/memory/memory-node-registry.js';
import { RedisNodeRegistry } from '../../packages/freshcache/src/adapters/redis/redis-node-registry.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { nodeRecord, nodeRegistryContract } from '../../packages/freshcache/src/testing/node-registry-contract.js';
import { redisClusterForFile } from '../testkit/redis-cluster.js';
import { redisForFile } from '../testkit/redis-server.js';

nodeRegistryContract('MemoryNodeRegistry', async ({ clock, timings }) => new MemoryNodeRegistry({ clock, ...timings }));

const redisOfFile = redisForFile();
nodeRegistryContract('RedisNodeRegistry (standalone)', async ({ clock, timings, namespace }) => new RedisNodeRegistry({ redis: redisOfFile().client, clock, namespace, ...timings }));

describe('RedisNodeRegistry', () => {
  it('processes sharing one Redis and namespace see each other’s nodes', async () => {
    const clock = new ManualClock(1_000);
    const one = new RedisNodeRegistry({ redis: redisOfFile().client, clock, namespace: 'shared:' });
    const other = new RedisNodeRegistry({ redis: redisOfFile().client, clock, namespace: 'shared:' });
    await one.heartbeat(nodeRecord('a'));
    await other.heartbeat(nodeRecord('b'));
    expect((await other.list()).map((n) => n.id)).toEqual(['a', 'b']);
    await one.deregister('b');
    expect((await other.list()).map((n) => n.id)).toEqual(['a']);
  });

  it('deletes a removed node from Redis, so that the registry does not grow with every node that ever ran', async () => {
    const clock = new ManualClock(1_000);
    const redis = redisOfFile().client;
    const registry = new RedisNodeRegistry({ redis, clock, namespace: 'gone:', removeAfterMs: 10_000 });
    await registry.heartbeat(nodeRecord('a'));
    clock.advance(10_000);
    await registry.heartbeat(nodeRecord('b'));
    expect(await redis.hkeys('gone:{nodes}:records')).toEqual(['b']);
    expect(await redis.zrange('gone:{nodes}:seen', 0, -1)).toEqual(['b']);
  });
});

describe('RedisNodeRegistry on a Redis Cluster', () => {
  const cluster = redisClusterForFile();

  nodeRegistryContract('RedisNodeRegistry (cluster)', async ({ clock, timings, namespace }) => new RedisNodeRegistry({ redis: cluster().client, clock, namespace, ...timings }));

  it('keeps both of its keys in one hash slot (CLUSTER KEYSLOT)', async () => {
    const slots = await Promise.all(['records', 'seen'].map((name) => cluster().client.cluster('KEYSLOT', `freshcache:{nodes}:${name}`)));
    expect(new Set(slots).size).toBe(1);
  });
});
