import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRedisNodes } from '../../packages/freshcache-server/src/topology/redis-nodes.js';
import type { RedisCluster } from '../testkit/redis-cluster.js';
import { startRedisCluster } from '../testkit/redis-cluster.js';
import { redisForFile } from '../testkit/redis-server.js';
import { freePort } from '../testkit/free-port.js';

const redisOfFile = redisForFile();

describe('describeRedisNodes: the Redis servers of GET /api/nodes', () => {
  it('shows a standalone Redis (it rejects CLUSTER) as one master with its keys and memory', async () => {
    const { server, client } = redisOfFile();
    await client.set('a', '1');
    await client.set('b', '2');
    const [node] = await describeRedisNodes([{ url: server.url }]);
    expect(node).toMatchObject({ kind: 'redis', id: `${server.host}:${server.port}`, role: 'master', slots: [], health: 'online', keys: 2 });
    expect(node!.memoryBytes).toBeGreaterThan(0);
    expect(node!.replicationOffset).toBeTypeOf('number');
  });

  it('shows a server that does not answer as unreachable instead of failing the listing', async () => {
    const port = await freePort();
    expect(await describeRedisNodes([{ url: `redis://127.0.0.1:${port}` }])).toEqual([expect.objectContaining({ id: `127.0.0.1:${port}`, health: 'unreachable', keys: null })]);
  });

  describe('on a Redis Cluster', () => {
    let cluster: RedisCluster;
    beforeAll(async () => {
      cluster = await startRedisCluster();
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('lists every master once, from any seed, with its cluster id, its slot ranges (all 16,384 between them) and INFO figures', async () => {
      const nodes = await describeRedisNodes([{ cluster: cluster.nodes.slice(0, 1) }]);
      expect(nodes.map((n) => n.address).sort()).toEqual(cluster.nodes.map((n) => `${n.host}:${n.port}`).sort());
      for (const node of nodes) {
        expect(node).toMatchObject({ kind: 'redis', role: 'master', masterId: null, health: 'online' });
        expect(node.id).toMatch(/^[0-9a-f]{40}$/);
        expect(node.memoryBytes).toBeGreaterThan(0);
      }
      const slots = nodes.flatMap((n) => n.slots).reduce((sum, [first, last]) => sum + last - first + 1, 0);
      expect(slots).toBe(16_384);
    });
  });

  describe('on a Redis Cluster with a replica per primary, nothing written yet', () => {
    let cluster: RedisCluster;
    beforeAll(async () => {
      cluster = await startRedisCluster({ replicas: 1 });
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('shows each replica online once it is in sync, under its primary (not loading until the primary first pings it)', async () => {
      const nodes = await describeRedisNodes([{ cluster: cluster.nodes.slice(0, 1) }]);
      const replicas = nodes.filter((n) => n.role === 'replica');
      expect(replicas).toHaveLength(3);
      for (const replica of replicas) {
        expect(replica.health, replica.address).toBe('online');
        expect(nodes.find((n) => n.id === replica.masterId)?.role).toBe('master');
      }
    });
  });
});
