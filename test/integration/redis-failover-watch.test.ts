import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import type { RedisFailover } from '../../packages/freshcache-server/src/topology/redis-failover-watch.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { startRedisCluster } from '../testkit/redis-cluster.js';
import type { RedisCluster } from '../testkit/redis-cluster.js';
import { openTopology, serverAppsOf } from '../testkit/test-topology.js';

/**
 * The failover watch of a control process whose L2 and log are on a real Redis Cluster with a
 * replica per primary: a kill -9 of a primary reaches /api/events as `redis.failover`, naming the
 * killed primary, its promoted replica and the slots, and GET /api/failovers keeps it.
 */
const GUARD_MS = 30_000;

let cluster: RedisCluster;
let topology: Topology;
let app: FastifyInstance;
let base: string;
const logLines: { level: number; msg: string; failedNode?: unknown; promotedNode?: unknown; slots?: unknown }[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: 1, nodeTimeoutMs: 1_000 });
  const redis = { cluster: cluster.nodes };
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logLines.push(JSON.parse(line) as (typeof logLines)[number]) });
  topology = await openTopology({ config: { log: { kind: 'redis', redis }, l2: { kind: 'redis', redis } }, logger });
  app = await buildApp({ topology, apps: serverAppsOf(topology) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await app?.close();
  await topology?.close();
  await cluster?.stop();
});

type Failovers = { watching: boolean; lookedAt: number | null; items: RedisFailover[] };
const failovers = async () => (await (await fetch(`${base}/api/failovers`)).json()) as Failovers;

/** Reads server-sent events until one named `name` arrives (bounded by GUARD_MS). */
async function nextEvent(body: ReadableStream<Uint8Array>, name: string): Promise<unknown> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const guard = setTimeout(() => void reader.cancel(), GUARD_MS);
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the event stream ended before a ${name} event:\n${text}`);
      text += value;
      const match = new RegExp(`event: ${name.replace('.', '\\.')}\\ndata: (.*)\\n\\n`).exec(text);
      if (match) return JSON.parse(match[1]!);
    }
  } finally {
    clearTimeout(guard);
    reader.releaseLock();
  }
}

describe('the failover watch on a Redis Cluster with replicas', () => {
  it('says the deployment is a cluster, and looks only while an event stream is open', async () => {
    expect(((await (await fetch(`${base}/api/info`)).json()) as { features: { cluster: boolean } }).features.cluster).toBe(true);
    expect(await failovers()).toEqual({ watching: false, lookedAt: null, items: [] });
  });

  it('kill -9 of a primary: redis.failover names it, its promoted replica and its slots; GET /api/failovers keeps it', { timeout: 60_000 }, async () => {
    const abort = new AbortController();
    try {
      const stream = await fetch(`${base}/api/events`, { signal: abort.signal });
      expect(stream.status).toBe(200);
      // The watch's first look is the layout a failover is compared with: wait for it (a cluster sends no event).
      const deadline = Date.now() + GUARD_MS;
      while ((await failovers()).lookedAt === null) {
        if (Date.now() > deadline) throw new Error('the watch never looked at the cluster');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect((await failovers()).watching).toBe(true);

      const primary = cluster.servers.find((n) => n.role === 'primary')!;
      const replica = cluster.servers.find((n) => n.replicaOf === primary.name)!;
      const seen = nextEvent(stream.body!, 'redis.failover');
      await primary.server.kill();
      const failover = (await seen) as RedisFailover;

      expect(failover.failedNode.address).toBe(`127.0.0.1:${primary.server.port}`);
      expect(failover.promotedNode.address).toBe(`127.0.0.1:${replica.server.port}`);
      expect(failover.slots).toEqual(primary.slots);
      expect(failover.failedNode.id).not.toBe(failover.promotedNode.id);
      expect((await failovers()).items).toEqual([failover]);
      // And a structured warning in the process's log.
      expect(logLines.filter((line) => line.msg.startsWith('Redis failover'))).toEqual([
        expect.objectContaining({ level: 40, failedNode: failover.failedNode, promotedNode: failover.promotedNode, slots: failover.slots }),
      ]);
    } finally {
      abort.abort();
    }
  });
});
