import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { createRedisConnection } from '../../packages/freshcache/src/adapters/redis/redis-connection.js';
import type { RedisServer } from './redis-server.js';
import { startRedis } from './redis-server.js';

export interface RedisCluster {
  nodes: { host: string; port: number }[];
  /** Kills every node and deletes their folders. */
  stop(): Promise<void>;
}

const MASTERS = 3;
/** Forming a cluster takes about 2 s here; this only turns a cluster that never forms into a failure. */
const READY_TIMEOUT_MS = 30_000;
const POLL_MS = 50;

/**
 * A throwaway Redis Cluster: three masters on free ports (and free bus ports), no replicas,
 * all 16384 slots assigned, ready when it resolves (`cluster_state:ok` on every node).
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  await requireRedisCli();
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < MASTERS; i++) servers.push(await startRedis({ cluster: true }));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    await redisCli(['--cluster', 'create', ...servers.map((s) => `${s.host}:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'], READY_TIMEOUT_MS);
    await Promise.all(servers.map((s) => waitForClusterOk(s, deadline)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: servers.map((s) => ({ host: s.host, port: s.port })), stop };
}

/**
 * Polls CLUSTER INFO: a node reports no event when the cluster has formed, and waiting for an
 * external server to become ready is the one place a bounded poll is the right tool.
 */
async function waitForClusterOk(server: RedisServer, deadline: number): Promise<void> {
  const client = new Redis(server.port, server.host, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await client.connect();
    let info = '';
    while (Date.now() < deadline) {
      info = await client.cluster('INFO');
      if (info.includes('cluster_state:ok')) return;
      await delay(POLL_MS);
    }
    throw new Error(`Redis Cluster node ${server.port} not ready after ${READY_TIMEOUT_MS} ms:\n${info}`);
  } finally {
    client.disconnect();
  }
}

async function requireRedisCli(): Promise<void> {
  try {
    await redisCli(['--version'], 10_000);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('redis-cli not found: it is in the redis-tools package (apt-get install -y redis-tools)', { cause: error });
    }
    throw error;
  }
}

function redisCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(guard);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(guard);
      if (code === 0) resolve(output);
      else reject(new Error(`redis-cli ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output}`));
    });
  });
}

/**
 * A Redis Cluster for the tests of one file (or describe block), started before them and stopped
 * after, with a ready Cluster client made as freshcache makes one (`createRedisConnection`).
 */
export function redisClusterForFile(): () => { cluster: RedisCluster; client: Cluster } {
  let started: { cluster: RedisCluster; client: Cluster } | undefined;
  beforeAll(async () => {
    const cluster = await startRedisCluster();
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
