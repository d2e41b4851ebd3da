import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisApplyMarks } from '../../packages/freshcache/src/adapters/redis/redis-apply-marks.js';
import { startTopology } from '../../packages/freshcache-server/src/cli/commands/serve.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { JSON_HEADERS, expectError } from './http-kit.js';
import { postgresForFile } from '../testkit/postgres-server.js';
import { redisForFile } from '../testkit/redis-server.js';

/**
 * The control process of `freshcache up` runs the relay and serves no region. Every route must
 * still answer: those that write to a region's cache or load through it with `400 no_region`
 * naming the deployment's regions; the others as on any node, the cache reads and the dry run
 * through the regions' shared L2 (test/http/region-views.test.ts); never a 500.
 */
const postgres = postgresForFile();
const redis = redisForFile();
const REGIONS = ['us-east', 'eu-west', 'ap-south'];
let topology: Topology;
let app: FastifyInstance;

beforeAll(async () => {
  const { url } = redis().server;
  // As `freshcache up` starts it (freshcache serve): with the demo app, its config having no capture rules.
  ({ topology, app } = await startTopology({
    roles: { regions: [], relay: true },
    regions: REGIONS.map((name) => ({ name })),
    origin: { kind: 'postgres', url: postgres().url },
    capture: { kind: 'outbox' },
    demo: true,
    log: { kind: 'redis', redis: { url } },
    l2: { kind: 'redis', redis: { url } },
    seed: false,
  }));
}, 60_000);

afterAll(async () => {
  await app?.close();
  await topology?.close();
});

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
const request = (method: Method, url: string, payload?: object) =>
  app.inject({ method, url, ...(payload ? { payload: JSON.stringify(payload), headers: JSON_HEADERS } : {}) });

describe('a process that serves no region', () => {
  it.each<[Method, string, object?]>([
    ['PUT', '/api/cache/k', { value: 1 }],
    ['DELETE', '/api/cache/k'],
    ['PUT', '/api/cache/k?region=eu-west', { value: 1 }],
    ['DELETE', '/api/cache/k?region=eu-west'],
    ['GET', '/edge/us-east/content/1'],
    ['HEAD', '/edge/us-east/content/1'],
  ])('answers %s %s with 400 no_region, naming the regions and where to go', async (method, url, payload) => {
    const res = await request(method, url, payload);
    if (method === 'HEAD') {
      expect(res.statusCode).toBe(400);
      return;
    }
    expectError(res, 400, 'no_region');
    const { message } = (res.json() as { error: { message: string } }).error;
    for (const name of REGIONS) expect(message).toContain(name);
    expect(message).toContain('freshcache up');
  });

  it('still says 404 unknown_region for a region the deployment does not declare', async () => {
    expectError(await request('GET', '/api/cache/k?region=mars'), 404, 'unknown_region');
    expectError(await request('GET', '/edge/mars/content/1'), 404, 'unknown_region');
  });

  it.each<[Method, string, number, object?]>([
    ['GET', '/health', 200],
    ['GET', '/ready', 200],
    ['GET', '/api/info', 200],
    ['GET', '/metrics', 200],
    ['GET', '/api/metrics', 200],
    ['GET', '/api/metrics/history?window=1m', 200],
    ['GET', '/api/regions', 200],
    // Read through the region's shared L2, as the nodes that serve it hold it (the first region when none is named).
    ['GET', '/api/cache/k', 404],
    ['HEAD', '/api/cache/k', 404],
    ['GET', '/api/cache?prefix=user:', 200],
    ['GET', '/api/cache/k?region=eu-west', 404],
    ['GET', '/api/cache?region=eu-west&prefix=user:', 200],
    ['POST', '/api/invalidate', 200, { tags: ['news'], dryRun: true }],
    ['GET', '/api/invalidations', 200],
    ['GET', '/api/invalidations/999999', 404],
    ['GET', '/api/content', 200],
    ['POST', '/api/content', 201, { slug: 'region-less', title: 'Made on the control process' }],
    ['GET', '/api/content/999999', 404],
    ['POST', '/api/invalidate', 202, { tags: ['news'] }],
    ['HEAD', '/api/events', 200],
    ['GET', '/docs/json', 200],
  ])('answers %s %s as any node does (%i)', async (method, url, status, payload) => {
    const res = await request(method, url, payload);
    expect(res.statusCode, res.body.slice(0, 300)).toBe(status);
  });
});

describe('the control process shows the whole deployment', () => {
  /** A node serving every region (delays 100, 300, 600 ms), in this process for the test: the deployment's other process. */
  const startNode = (nodeId: string) =>
    startTopology({
      nodeId,
      roles: { regions: REGIONS, relay: false },
      regions: REGIONS.map((name, i) => ({ name, delayMs: [100, 300, 600][i], jitter: 0 })),
      origin: { kind: 'postgres', url: postgres().url },
      capture: { kind: 'outbox' },
      demo: true,
      log: { kind: 'redis', redis: { url: redis().server.url } },
      l2: { kind: 'redis', redis: { url: redis().server.url } },
      seed: false,
    });

  it('lists every region the deployment declares, as configured, none served here', async () => {
    const items = (await request('GET', '/api/regions')).json<{ items: { name: string; served: boolean; strategy: string }[] }>().items;
    expect(items.map(({ name, served, strategy }) => ({ name, served, strategy }))).toEqual(REGIONS.map((name) => ({ name, served: false, strategy: 'eager' })));
  });

  it('shows when each node of each region applied an invalidation, from the marks every node reports', async () => {
    const node = await startNode('node-1');
    try {
      const published = (await request('POST', '/api/invalidate', { keys: ['fleet:1'] })).json<{ id: number; committedAt: number }>();
      const fleet = async () =>
        (await request('GET', `/api/invalidations/${published.id}`)).json<{
          complete: boolean;
          regions: Record<string, { appliedAt: number | null }>;
          nodes: { node: string; region: string; appliedAt: number | null }[];
        }>();
      // The control serves no region: what it shows comes only from the node's marks (written within 100 ms of applying).
      expect((await fleet()).regions['us-east']).toMatchObject({ appliedAt: null });
      const status = await vi.waitFor(
        async () => {
          const now = await fleet();
          expect(now.complete).toBe(true);
          return now;
        },
        { timeout: 10_000, interval: 50 },
      );
      const ours = status.nodes.filter((n) => n.node === 'node-1');
      expect(ours.map((n) => n.region).sort()).toEqual([...REGIONS].sort());
      for (const { region, appliedAt } of ours) {
        expect(appliedAt).not.toBeNull();
        expect(status.regions[region]!.appliedAt).toBe(appliedAt);
      }
      // In delay order, each no earlier than its delay after the publish.
      const at = (region: string) => ours.find((n) => n.region === region)!.appliedAt!;
      expect(at('us-east')).toBeLessThan(at('eu-west'));
      expect(at('eu-west')).toBeLessThan(at('ap-south'));
      // The history as the dashboard lists it says the same (the control's own list alone showed it in progress).
      const listed = (await request('GET', '/api/invalidations')).json<{ items: { id: number; complete: boolean; regions: Record<string, { appliedAt: number | null }> }[] }>();
      const item = listed.items.find((i) => i.id === published.id)!;
      expect(item.complete).toBe(true);
      for (const region of REGIONS) expect(item.regions[region]!.appliedAt).toBe(status.regions[region]!.appliedAt);
    } finally {
      await node.app.close();
      await node.topology.close();
    }
  });

  it('adds up the metrics of every node that serves a region (GET /api/metrics), naming the nodes that reported', async () => {
    const node = await startNode('node-2');
    try {
      await node.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = node.app.server.address() as AddressInfo;
      await node.topology.presence.listening(`http://127.0.0.1:${port}`);
      for (let i = 0; i < 3; i++) await node.app.inject('/api/cache/metrics:1?region=eu-west');
      const metrics = (await request('GET', '/api/metrics')).json<{ regions: Record<string, { requests: { misses: number } }>; nodes: { reporting: string[]; unreachable: string[] } }>();
      expect(metrics.nodes.reporting).toContain('node-2');
      expect(metrics.nodes.unreachable).toEqual([]);
      expect(Object.keys(metrics.regions).sort()).toEqual([...REGIONS].sort());
      expect(metrics.regions['eu-west']!.requests.misses).toBeGreaterThanOrEqual(3);
      // Its own figures, as the control merged them.
      const own = (await node.app.inject('/api/metrics/node')).json<{ regions: Record<string, { requests: { misses: number } }> }>();
      expect(own.regions['eu-west']!.requests.misses).toBe(metrics.regions['eu-west']!.requests.misses);
      // The history too, once the node has a step (one a second) to tell.
      const history = await vi.waitFor(
        async () => {
          const answer = (await request('GET', '/api/metrics/history?window=1m')).json<{ points: { regions: Record<string, unknown> }[]; nodes: { reporting: string[] } }>();
          expect(answer.points.length).toBeGreaterThan(0);
          return answer;
        },
        { timeout: 10_000, interval: 100 },
      );
      expect(history.nodes.reporting).toContain('node-2');
      expect(Object.keys(history.points.at(-1)!.regions).sort()).toEqual([...REGIONS].sort());
    } finally {
      await node.app.close();
      await node.topology.close();
    }
  });

  it("changes a region for every node that serves it, from the control process, and for the nodes that start later", async () => {
    const node = await startNode('node-settings');
    try {
      const answer = await request('PATCH', '/api/regions/eu-west', { strategy: 'lazy', maxStaleMs: 12_000 });
      expect(answer.statusCode, answer.body).toBe(200);
      expect(answer.json()).toMatchObject({ name: 'eu-west', strategy: 'lazy', maxStaleMs: 12_000, served: false });
      // The node hears it on the log.
      const onNode = async () => (await node.app.inject('/api/regions')).json<{ items: { name: string; strategy: string; maxStaleMs: number }[] }>().items;
      await vi.waitFor(async () => expect((await onNode()).find((r) => r.name === 'eu-west')).toMatchObject({ strategy: 'lazy', maxStaleMs: 12_000 }), { timeout: 10_000, interval: 50 });
      expect((await onNode()).find((r) => r.name === 'us-east')?.strategy).toBe('eager');
      expect(node.topology.regions.get('eu-west')!.cache.strategy).toBe('lazy');
    } finally {
      await node.app.close();
      await node.topology.close();
    }
    // One started afterwards serves the region as changed, from the start.
    const later = await startNode('node-later');
    try {
      expect(later.topology.regions.get('eu-west')!.config).toMatchObject({ strategy: 'lazy', maxStaleMs: 12_000 });
      expect(later.topology.regions.get('us-east')!.config.strategy).toBe('eager');
    } finally {
      await later.app.close();
      await later.topology.close();
    }
  });

  it("forgets a region group's consumer of a node the registry does not list, and keeps a listed node's", async () => {
    const stream = 'freshcache:{log}:events';
    const group = 'region:ap-south';
    await redis().client.xgroup('CREATE', stream, group, '$', 'MKSTREAM').catch(() => {}); // BUSYGROUP: made by an earlier test
    const listed = topology.config.nodeId;
    for (const name of ['killed-node', listed]) await redis().client.xgroup('CREATECONSUMER', stream, group, name);
    const names = async () => ((await redis().client.xinfo('CONSUMERS', stream, group)) as unknown[][]).map((fields) => String(fields[fields.indexOf('name') + 1]));
    // Every process sweeps when it starts, then every nodes.removeAfterMs.
    const sweeper = await startTopology({
      nodeId: 'sweeper',
      roles: { regions: [], relay: false },
      regions: REGIONS.map((name) => ({ name })),
      origin: { kind: 'postgres', url: postgres().url },
      capture: { kind: 'outbox' },
      log: { kind: 'redis', redis: { url: redis().server.url } },
      l2: { kind: 'redis', redis: { url: redis().server.url } },
      seed: false,
    });
    try {
      await vi.waitFor(async () => expect(await names()).not.toContain('killed-node'), { timeout: 10_000, interval: 50 });
      expect(await names()).toContain(listed);
    } finally {
      await sweeper.app.close();
      await sweeper.topology.close();
    }
  });

  it('leaves out the marks of a node the registry does not show (one that died without withdrawing them)', async () => {
    const published = (await request('POST', '/api/invalidate', { keys: ['ghost:1'] })).json<{ id: number }>();
    const namespace = topology.config.log.kind === 'redis' ? topology.config.log.namespace : '';
    await new RedisApplyMarks(redis().client, namespace).report({ node: 'ghost', region: 'us-east', position: published.id, at: Date.now() });
    const status = (await request('GET', `/api/invalidations/${published.id}`)).json<{ nodes: { node: string }[] }>();
    expect(status.nodes.map((n) => n.node)).not.toContain('ghost');
  });
});
