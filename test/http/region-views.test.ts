import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTopology } from '../../packages/freshcache-server/src/cli/commands/serve.js';
import type { ConfigInput } from '../../packages/freshcache-server/src/config.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { JSON_HEADERS, expectError } from './http-kit.js';
import { postgresForFile } from '../testkit/postgres-server.js';
import { redisForFile } from '../testkit/redis-server.js';

/**
 * A process with the control role reads the regions other processes serve through their shared
 * L2 (Topology.reader, RegionView): the key explorer, a key's value and the dry run, judged by
 * the invalidation log, without joining the region's consumer group or writing to its L2.
 *
 * us-east's nodes wait 10 minutes before applying an event, so its consumer group deletes
 * nothing during the test: an entry a purge made stale is still in its L2, and only the view's
 * judging keeps it from being shown fresh.
 */
const postgres = postgresForFile();
const redis = redisForFile();
const REGIONS = [
  { name: 'us-east', delayMs: 600_000, jitter: 0 },
  { name: 'eu-west', delayMs: 0, jitter: 0 },
];
const L2_NAMESPACE = 'fc-l2:';

type Started = { topology: Topology; app: FastifyInstance };
let node: Started;
let control: Started;

const config = (nodeId: string, regions: string[], l2: 'redis' | 'memory' = 'redis'): ConfigInput => ({
  nodeId,
  roles: { regions, relay: false },
  regions: REGIONS,
  origin: { kind: 'postgres', url: postgres().url },
  log: { kind: 'redis', redis: { url: redis().server.url } },
  l2: l2 === 'redis' ? { kind: 'redis', redis: { url: redis().server.url }, namespace: L2_NAMESPACE } : { kind: 'memory' },
  seed: false,
});

beforeAll(async () => {
  node = await startTopology(config('node-us', ['us-east']));
  control = await startTopology(config('control', []));
}, 60_000);

afterAll(async () => {
  for (const started of [control, node]) {
    await started?.app.close();
    await started?.topology.close();
  }
});

const call = (on: Started, method: 'GET' | 'PUT' | 'POST', url: string, payload?: object) =>
  on.app.inject({ method, url, ...(payload ? { payload: JSON.stringify(payload), headers: JSON_HEADERS } : {}) });

interface Page {
  region: string;
  items: { key: string; tier: string; state: string; value: unknown; tags: string[] }[];
  cursor: string | null;
}
const explore = async (query: string) => {
  const res = await call(control, 'GET', `/api/cache?region=us-east&${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Page>();
};
const states = (page: Page) => Object.fromEntries(page.items.map((item) => [item.key, item.state]));

describe('a control process that serves no region, on the regions\' Redis', () => {
  it('lists and reads the entries of a region served elsewhere, and sees an invalidation make them stale at once', async () => {
    for (const [key, tags] of [['view:a', ['news']], ['view:b', []], ['view:c', ['sports']]] as const) {
      const put = await call(node, 'PUT', `/api/cache/${key}?region=us-east`, { value: { key }, tags });
      expect(put.statusCode, put.body).toBe(201);
    }
    const before = await explore('prefix=view:');
    expect(before.region).toBe('us-east');
    expect(states(before)).toEqual({ 'view:a': 'fresh', 'view:b': 'fresh', 'view:c': 'fresh' });
    expect(before.items.every((item) => item.tier === 'l2')).toBe(true);
    expect(before.items.find((item) => item.key === 'view:a')).toMatchObject({ value: { key: 'view:a' }, tags: ['news'] });

    // Without a region, the deployment's first: this process serves none.
    const unnamed = await call(control, 'GET', '/api/cache?prefix=view:');
    expect(unnamed.json<Page>().region).toBe('us-east');
    expect(states(unnamed.json<Page>())).toEqual(states(before));

    const read = await call(control, 'GET', '/api/cache/view:a?region=us-east');
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json()).toMatchObject({ key: 'view:a', value: { key: 'view:a' }, state: 'HIT', tier: 'l2' });
    expect(read.headers).toMatchObject({ 'x-cache': 'HIT', 'x-cache-region': 'us-east' });

    // A purge of one key and one tag, published on the log (from the control: it reaches every node).
    const purge = await call(control, 'POST', '/api/invalidate', { keys: ['view:b'], tags: ['news'] });
    expect(purge.statusCode, purge.body).toBe(202);
    // The view applies it as soon as it reads it from the log.
    const after = await vi.waitFor(
      async () => {
        const page = await explore('prefix=view:');
        expect(states(page)).toEqual({ 'view:a': 'invalid', 'view:b': 'invalid', 'view:c': 'fresh' });
        return page;
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(after.items).toHaveLength(3);
    expectError(await call(control, 'GET', '/api/cache/view:a?region=us-east'), 404, 'not_found');
    expectError(await call(control, 'GET', '/api/cache/view:b?region=us-east'), 404, 'not_found');
    expect((await call(control, 'GET', '/api/cache/view:c?region=us-east')).statusCode).toBe(200);

    // The region itself applies the purge only after its delay: it still serves the entry, and
    // the entry is still in its L2; the view neither deleted it nor reclaimed it on those reads.
    expect((await call(node, 'GET', '/api/cache/view:a?region=us-east')).headers['x-cache']).toBe('HIT');
    expect(await redis().client.exists(`${L2_NAMESPACE}us-east:{view:a}`, `${L2_NAMESPACE}us-east:{view:b}`)).toBe(2);
  });

  it("previews a purge in every region, served here or not, from each region's L2 (the dry run)", async () => {
    const put = await call(node, 'PUT', '/api/cache/dry:1?region=us-east', { value: 1, tags: ['dry'] });
    expect(put.statusCode, put.body).toBe(201);
    const res = await call(control, 'POST', '/api/invalidate', { tags: ['dry'], dryRun: true });
    expect(res.statusCode, res.body).toBe(200);
    const { regions } = res.json<{ regions: Record<string, { keys: string[]; total: number }> }>();
    expect(Object.keys(regions)).toEqual(['us-east', 'eu-west']);
    expect(regions['us-east']).toMatchObject({ keys: ['dry:1'], total: 1 });
    expect(regions['eu-west']).toMatchObject({ keys: [], total: 0 });
    // A process that serves us-east previews eu-west through its view the same way.
    const fromNode = await call(node, 'POST', '/api/invalidate', { tags: ['dry'], dryRun: true });
    expect(fromNode.json<{ regions: unknown }>().regions).toEqual(regions);
  });

  it("does not join a region's consumer group: the region's events stay with its nodes", async () => {
    // Both views exist by now (the tests above read us-east, the dry run eu-west).
    const consumers = async (region: string) =>
      ((await redis().client.call('XINFO', 'CONSUMERS', 'freshcache:{log}:events', `region:${region}`)) as unknown[][]).map((fields) => fields[1]);
    expect(await consumers('us-east')).toEqual(['node-us']);
    await expect(consumers('eu-west')).rejects.toThrow(/NOGROUP/);
  });

  it('still answers no_region for a region whose L2 is in its nodes\' memory, saying why', async () => {
    const local = await startTopology(config('control-memory', [], 'memory'));
    try {
      for (const url of ['/api/cache?region=us-east', '/api/cache/k?region=us-east']) {
        const res = await call(local, 'GET', url);
        expectError(res, 400, 'no_region');
        expect(res.json<{ error: { message: string } }>().error.message).toMatch(/memory.*cannot read/);
      }
      expectError(await call(local, 'POST', '/api/invalidate', { tags: ['dry'], dryRun: true }), 400, 'no_region');
    } finally {
      await local.app.close();
      await local.topology.close();
    }
  });
});
