import type { Cluster } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { createRedisConnection } from '../../packages/freshcache/src/adapters/redis/redis-connection.js';
import { startRedisCluster as startLocalRedisCluster } from '../../packages/freshcache-server/src/tools/local-redis-cluster.js';
import type { RedisClusterNode, RedisClusterOptions } from '../../packages/freshcache-server/src/tools/local-redis-cluster.js';

// The test kit uses the same local cluster as `freshcache up --redis cluster`.
export { waitForRedisCluster } from '../../packages/freshcache-server/src/tools/local-redis-cluster.js';
export type { RedisClusterNode, RedisClusterOptions };

export interface RedisCluster {
  /** Every node's host and port (primaries first), as ioredis's Cluster and the config take them. */
  nodes: { host: string; port: number }[];
  /** Each node with its name, its role when the cluster formed, and its server (kill, pause, restart). */
  servers: RedisClusterNode[];
  /** Kills every node and deletes their folders. */
  stop(): Promise<void>;
}

/**
 * A throwaway Redis Cluster, ready when it resolves: by default three primaries on free ports
 * (and free bus ports), no replicas, all 16384 slots assigned; `replicas` adds replicas to each
 * primary, in sync when it resolves, and `nodeTimeoutMs` shortens failovers.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const cluster = await startLocalRedisCluster(options);
  return { nodes: cluster.nodes.map((n) => ({ host: n.server.host, port: n.server.port })), servers: cluster.nodes, stop: cluster.stop };
}

/**
 * A Redis Cluster for the tests of one file (or describe block), started before them and stopped
 * after, with a ready Cluster client made as freshcache makes one (`createRedisConnection`).
 */
export function redisClusterForFile(options: RedisClusterOptions = {}): () => { cluster: RedisCluster; client: Cluster } {
  let started: { cluster: RedisCluster; client: Cluster } | undefined;
  beforeAll(async () => {
    const cluster = await startRedisCluster(options);
    const client = createRedisConnection({ cluster: cluster.nodes });
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    started = { cluster, client };
  }, 60_000);
  afterAll(async () => {
    started?.client.disconnect();
    await started?.cluster.stop();
  });
  return () => {
    if (!started) throw new Error('the Redis Cluster of this file is not started (use it inside a test or hook)');
    return started;
  };
}
