import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import type { RebalanceProgress } from '../../packages/freshcache-server/src/topology/redis-cluster-admin.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { expectError, JSON_HEADERS } from '../http/http-kit.js';
import { startRedisCluster } from '../testkit/redis-cluster.js';
import type { RedisCluster } from '../testkit/redis-cluster.js';
import { startRedis } from '../testkit/redis-server.js';
import type { RedisServer } from '../testkit/redis-server.js';
import { openTopology, serverAppsOf } from '../testkit/test-topology.js';

/** POST /api/rebalance on a control process whose L2 and log are on a real Redis Cluster. */
let cluster: RedisCluster;
let newcomer: RedisServer;
let topology: Topology;
let app: FastifyInstance;

beforeAll(async () => {
  cluster = await startRedisCluster();
  newcomer = await startRedis({ cluster: true });
  const redis = { cluster: cluster.nodes };
  topology = await openTopology({ config: { log: { kind: 'redis', redis }, l2: { kind: 'redis', redis } } });
  app = await buildApp({ topology, apps: serverAppsOf(topology) });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await topology?.close();
  await newcomer?.stop();
  await cluster?.stop();
});

const post = (body: object) => app.inject({ method: 'POST', url: '/api/rebalance', headers: JSON_HEADERS, payload: JSON.stringify(body) });

describe('POST /api/rebalance on a Redis Cluster', () => {
  it('checks the request against the cluster before anything moves', async () => {
    expectError(await post({ action: 'remove-node', node: 'no-such-node' }), 404, 'not_found');
    expectError(await post({ action: 'add-node', node: 'not an address' }), 400, 'bad_request');
    const member = cluster.nodes[1]!;
    expectError(await post({ action: 'add-node', node: `${member.host}:${member.port}` }), 409, 'conflict');
    const standalone = await startRedis();
    try {
      const res = await post({ action: 'add-node', node: `${standalone.host}:${standalone.port}` });
      expectError(res, 400, 'bad_request');
      expect(res.json().error.message).toContain('cluster mode');
    } finally {
      await standalone.stop();
    }
    expect((await app.inject({ method: 'GET', url: '/api/rebalance' })).json()).toEqual({ running: false, progress: null });
  });

  it('adds a primary: 202 at once, 409 to a second operation while it runs, progress on GET and on the event stream until done', async () => {
    const events: RebalanceProgress[] = [];
    const finished = new Promise<RebalanceProgress>((resolve) => {
      const listener = ({ name, data }: { name: string; data: unknown }) => {
        if (name !== 'rebalance.progress') return;
        events.push(data as RebalanceProgress);
        if (['done', 'failed'].includes((data as RebalanceProgress).phase)) {
          topology.events.off('app.event', listener);
          resolve(data as RebalanceProgress);
        }
      };
      topology.events.on('app.event', listener);
    });
    const node = `${newcomer.host}:${newcomer.port}`;
    const accepted = await post({ action: 'add-node', node });
    expect(accepted.statusCode).toBe(202);
    expect(accepted.json()).toMatchObject({ operation: 'add-node', node, phase: 'joining', movedSlots: 0, plannedSlots: 4_096, finishedAt: null, error: null });
    expectError(await post({ action: 'rebalance' }), 409, 'conflict');
    expect((await app.inject({ method: 'GET', url: '/api/rebalance' })).json()).toMatchObject({ running: true, progress: { operation: 'add-node' } });

    const result = await finished;
    expect(result).toMatchObject({ phase: 'done', movedSlots: 4_096, plannedSlots: 4_096, error: null });
    expect(events.map((e) => e.phase)).toContain('moving');
    const status = await app.inject({ method: 'GET', url: '/api/rebalance' });
    expect(status.json()).toMatchObject({ running: false, progress: { operation: 'add-node', phase: 'done', movedSlots: 4_096 } });
    const nodes = (await app.inject({ method: 'GET', url: '/api/nodes' })).json() as { redis: { address: string; slots: [number, number][] }[] };
    const added = nodes.redis.find((n) => n.address === node)!;
    expect(added.slots.reduce((sum, [first, last]) => sum + last - first + 1, 0)).toBe(4_096);
  });
});
