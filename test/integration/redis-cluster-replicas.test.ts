import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection } from '../../packages/freshcache/src/adapters/redis/redis-connection.js';
import type { RedisCluster } from '../testkit/redis-cluster.js';
import { startRedisCluster, waitForRedisCluster } from '../testkit/redis-cluster.js';

/** The test kit's (and `freshcache up --redis cluster`'s) Redis Cluster with replicas, and what a failover does to it. */

const NODE_TIMEOUT_MS = 1_000;
const GUARD_MS = 30_000;

async function client(port: number): Promise<Redis> {
  const redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  return redis;
}

/** Polls a node until `done` holds: a cluster sends no event when its view changes. */
async function until(what: string, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + GUARD_MS;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not within ${GUARD_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('startRedisCluster with replicas', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster({ replicas: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('starts 3 primaries with a replica each, every replica following its primary and in sync', async () => {
    const primaries = cluster.servers.filter((n) => n.role === 'primary');
    const replicas = cluster.servers.filter((n) => n.role === 'replica');
    expect(primaries).toHaveLength(3);
    expect(replicas).toHaveLength(3);
    expect(cluster.nodes).toHaveLength(6);
    expect(new Set(replicas.map((r) => r.replicaOf))).toEqual(new Set(primaries.map((p) => p.name)));
    expect(primaries.flatMap((p) => p.slots).reduce((sum, [first, last]) => sum + last - first + 1, 0)).toBe(16_384);
    for (const node of cluster.servers) expect(node.name).toBe(`redis-${node.server.port}`);
    for (const replica of replicas) {
      const redis = await client(replica.server.port);
      const info = await redis.info('replication');
      redis.disconnect();
      expect(info).toContain(`master_port:${cluster.servers.find((p) => p.name === replica.replicaOf)!.server.port}`);
      expect(info).toContain('master_link_status:up');
    }
  });

  it('kill -9 of a primary: its replica is promoted, and the old primary, started again, rejoins as a replica', { timeout: 60_000 }, async () => {
    const writer = createRedisConnection({ cluster: cluster.nodes });
    try {
      await writer.set('{failover}k', 'before');
      const slot = Number(await writer.cluster('KEYSLOT', '{failover}k'));
      const owner = await ownerOf(cluster, slot);
      const replica = cluster.servers.find((n) => n.replicaOf === owner.name)!;
      // Replicated before the kill, so that the promoted replica holds it.
      const primary = await client(owner.server.port);
      expect(await primary.call('WAIT', '1', '5000')).toBe(1);
      primary.disconnect();

      await owner.server.kill();
      const promoted = await client(replica.server.port);
      await until(`${replica.name} promoted`, async () => (await promoted.info('replication')).includes('role:master'));
      expect(await promoted.get('{failover}k')).toBe('before');
      promoted.disconnect();

      await owner.server.restart();
      await waitForRedisCluster(cluster.nodes, { primaries: 3, replicas: 1, deadline: Date.now() + GUARD_MS });
      const rejoined = await client(owner.server.port);
      const info = await rejoined.info('replication');
      rejoined.disconnect();
      expect(info).toContain('role:slave');
      expect(info).toContain(`master_port:${replica.server.port}`);
    } finally {
      writer.disconnect();
    }
  });
});

describe('startRedisCluster without replicas (cluster-require-full-coverage no)', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('keeps serving the slots of the primaries still up once another primary is marked failed', { timeout: 60_000 }, async () => {
    const [lost, kept] = cluster.servers;
    await lost!.server.kill();
    const survivor = await client(kept!.server.port);
    try {
      await until(`${lost!.name} marked failed`, async () =>
        String(await survivor.cluster('NODES')).split('\n').some((line) => line.includes(`:${lost!.server.port}@`) && /\bfail\b/.test(line)),
      );
      // A key of the survivor's own slots: with full coverage required, it would answer CLUSTERDOWN.
      const key = await keyServedBy(survivor);
      expect(await survivor.set(key, 'v')).toBe('OK');
      expect(await survivor.get(key)).toBe('v');
    } finally {
      survivor.disconnect();
    }
  });
});

async function ownerOf(cluster: RedisCluster, slot: number) {
  const redis = await client(cluster.nodes[0]!.port);
  const slots = await redis.cluster('SLOTS');
  redis.disconnect();
  const port = slots.find(([first, last]) => slot >= first && slot <= last)![2]![1];
  return cluster.servers.find((n) => n.server.port === port)!;
}

/** A key in one of the slots `node` itself serves. */
async function keyServedBy(node: Redis): Promise<string> {
  const myself = String(await node.cluster('NODES')).split('\n').find((line) => line.includes('myself'))!;
  const [first, last] = myself.split(' ')[8]!.split('-').map(Number);
  // It serves a third of the slots: a few tries find one of its keys.
  for (let i = 0; ; i++) {
    const slot = Number(await node.cluster('KEYSLOT', `k${i}`));
    if (slot >= first! && slot <= last!) return `k${i}`;
  }
}
