import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import type { InvalidationStatus } from '../../packages/freshcache-server/src/topology/invalidation-tracker.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { testApp } from '../testkit/test-topology.js';

const REGIONS = ['us-east', 'eu-west', 'ap-south'] as const;

/** Stores `key` in each of `regions` through the engine: a PUT would drop it in the other regions. */
async function put(topology: Topology, key: string, tags: string[] = [], regions: readonly string[] = REGIONS) {
  for (const region of regions) await topology.region(region).cache.set(key, key, { tags, ttlMs: 3_600_000 });
}

async function status(app: FastifyInstance, key: string, region: string) {
  return (await app.inject(`/api/cache/${key}?region=${region}`)).statusCode;
}

describe('POST /api/invalidate', () => {
  it('with dryRun lists the matching keys of each region and purges nothing', async () => {
    const clock = new ManualClock();
    const { app, topology } = await testApp({ clock });
    await put(topology, 'user:1', ['team-a'], ['us-east', 'eu-west']);
    await put(topology, 'user:2', [], ['us-east']);
    await put(topology, 'post:1', ['team-a'], ['us-east']);
    await put(topology, 'post:2', [], REGIONS);
    await put(topology, 'other', [], ['ap-south']);

    const res = await app.inject({ method: 'POST', url: '/api/invalidate', payload: { prefixes: ['user:*'], tags: ['team-a'], keys: ['other'], dryRun: true } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      dryRun: true,
      keys: ['other'],
      tags: ['team-a'],
      prefixes: ['user:'],
      regions: {
        'us-east': { keys: ['post:1', 'user:1', 'user:2'], total: 3, partial: false },
        'eu-west': { keys: ['user:1'], total: 1, partial: false },
        'ap-south': { keys: ['other'], total: 1, partial: false },
      },
    });

    await clock.advanceAsync(1_000); // longer than every region's delay
    expect((await app.inject('/api/invalidations')).json()).toEqual({ items: [] });
    for (const [key, region] of [['user:1', 'us-east'], ['user:1', 'eu-west'], ['post:1', 'us-east'], ['other', 'ap-south']] as const) {
      expect(await status(app, key, region), `${key} in ${region}`).toBe(200);
    }
  });

  it('publishes a purge (202 + id) that each region applies after its delay, visible in /api/invalidations/:id', async () => {
    const clock = new ManualClock();
    const { app, topology } = await testApp({ clock });
    await put(topology, 'user:1');
    await put(topology, 'post:1');
    const t0 = clock.now();

    const res = await app.inject({ method: 'POST', url: '/api/invalidate', payload: { keys: ['user:1'] } });
    expect(res.statusCode, res.body).toBe(202);
    const published = res.json<InvalidationStatus>();
    expect(published).toMatchObject({ id: expect.any(Number), source: 'purge', keys: ['user:1'], tags: [], prefixes: [], complete: false });
    expect(res.headers.location).toBe(`/api/invalidations/${published.id}`);
    for (const region of REGIONS) expect(published.regions[region]).toEqual({ appliedAt: null, lagMs: null, skipped: false });
    // Written in the oldest format that says it: a node of the previous release (v1) reads it.
    const logged: number[] = [];
    const watch = topology.log.subscribe({ afterId: published.id - 1, onEvent: (event) => void logged.push(event.v) });
    await clock.advanceAsync(0);
    await watch.close();
    expect(logged[0]).toBe(1);

    const progress = async () => (await app.inject(`/api/invalidations/${published.id}`)).json<InvalidationStatus>();
    const expected: Record<string, number | null> = { 'us-east': null, 'eu-west': null, 'ap-south': null };
    for (const [region, delay] of [['us-east', 100], ['eu-west', 300], ['ap-south', 600]] as const) {
      await clock.advanceAsync(delay - 1 - (clock.now() - t0));
      expect(await status(app, 'user:1', region), `${region} just before its delay`).toBe(200);
      expect(Object.fromEntries(Object.entries((await progress()).regions).map(([n, r]) => [n, r.appliedAt]))).toEqual(expected);

      await clock.advanceAsync(1);
      expected[region] = t0 + delay;
      expect(await status(app, 'user:1', region), `${region} after its delay`).toBe(404);
      expect(await status(app, 'post:1', region)).toBe(200);
      const now = await progress();
      expect(now.regions[region]).toEqual({ appliedAt: t0 + delay, lagMs: delay, skipped: false });
      expect(now.complete).toBe(region === 'ap-south');
    }
    const recent = (await app.inject('/api/invalidations')).json<{ items: InvalidationStatus[] }>();
    expect(recent.items.map((i) => i.id)).toEqual([published.id]);
  });

  it('purges by tag and by prefix, and lists invalidations newest first', async () => {
    const clock = new ManualClock();
    const { app, topology } = await testApp({ clock });
    await put(topology, 'user:1', ['team-a']);
    await put(topology, 'user:2');
    await put(topology, 'post:1', ['team-a']);
    await put(topology, 'post:2');
    await put(topology, 'userx');

    const byTag = await app.inject({ method: 'POST', url: '/api/invalidate', payload: { tags: ['team-a'] } });
    const byPrefix = await app.inject({ method: 'POST', url: '/api/invalidate', payload: { prefixes: ['user:*'] } });
    expect([byTag.statusCode, byPrefix.statusCode]).toEqual([202, 202]);
    expect(byPrefix.json()).toMatchObject({ prefixes: ['user:'] });
    await clock.advanceAsync(600);

    for (const region of REGIONS) {
      expect(await status(app, 'user:1', region)).toBe(404);
      expect(await status(app, 'user:2', region)).toBe(404);
      expect(await status(app, 'post:1', region)).toBe(404);
      expect(await status(app, 'post:2', region)).toBe(200);
      expect(await status(app, 'userx', region)).toBe(200);
    }
    const recent = (await app.inject('/api/invalidations?limit=10')).json<{ items: InvalidationStatus[] }>();
    expect(recent.items.map((i) => i.id)).toEqual([byPrefix.json<InvalidationStatus>().id, byTag.json<InvalidationStatus>().id]);
    expect(recent.items.every((i) => i.complete)).toBe(true);
  });
});
