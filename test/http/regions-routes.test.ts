import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import type { InvalidationStatus } from '../../packages/freshcache-server/src/topology/invalidation-tracker.js';
import { testApp } from '../testkit/test-topology.js';
import { createContent } from './http-kit.js';

const DEFAULTS = { jitter: 0, strategy: 'eager', mode: 'cdc', ttlMs: 60_000, maxStaleMs: 30_000, negativeTtlMs: 5_000, served: true };

describe('/api/regions', () => {
  it('GET lists the regions with their delay, strategy, mode and TTL', async () => {
    const { app } = await testApp();
    const res = await app.inject('/api/regions');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      items: [
        { name: 'us-east', delayMs: 100, ...DEFAULTS },
        { name: 'eu-west', delayMs: 300, ...DEFAULTS },
        { name: 'ap-south', delayMs: 600, ...DEFAULTS },
      ],
    });
  });

  it('PATCH changes the strategy of one region: lazy serves a purged entry STALE, eager drops it', async () => {
    const clock = new ManualClock();
    const { app } = await testApp({ clock });
    const res = await app.inject({ method: 'PATCH', url: '/api/regions/us-east', payload: { strategy: 'lazy', maxStaleMs: 5_000 } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ name: 'us-east', delayMs: 100, ...DEFAULTS, strategy: 'lazy', maxStaleMs: 5_000 });
    const regions = (await app.inject('/api/regions')).json<{ items: { name: string; strategy: string }[] }>().items;
    expect(regions.map((r) => [r.name, r.strategy])).toEqual([['us-east', 'lazy'], ['eu-west', 'eager'], ['ap-south', 'eager']]);

    for (const region of ['us-east', 'eu-west']) await app.inject({ method: 'PUT', url: `/api/cache/k?region=${region}`, payload: { value: 1, ttl: 3600 } });
    await app.inject({ method: 'POST', url: '/api/invalidate', payload: { keys: ['k'] } });
    await clock.advanceAsync(300);
    const lazy = await app.inject('/api/cache/k?region=us-east');
    expect(lazy.statusCode).toBe(200);
    expect(lazy.headers['x-cache']).toBe('STALE');
    expect((await app.inject('/api/cache/k?region=eu-west')).statusCode).toBe(404);
    await clock.advanceAsync(5_000); // past maxStaleMs: never served again
    expect((await app.inject('/api/cache/k?region=us-east')).statusCode).toBe(404);
  });

  it('PATCH negativeTtlMs changes how long a region remembers that a record does not exist', async () => {
    const { app, topology } = await testApp();
    const unknown = () => app.inject('/edge/us-east/content/999999');
    const remembered = () => topology.region('us-east').stats.negativeHits;
    expect((await unknown()).statusCode).toBe(404);
    expect((await unknown()).statusCode).toBe(404);
    expect(remembered()).toBe(1); // the default: the second read did not reach the database
    const res = await app.inject({ method: 'PATCH', url: '/api/regions/us-east', payload: { negativeTtlMs: 0 } });
    expect(res.json()).toMatchObject({ name: 'us-east', negativeTtlMs: 0 });
    expect((await app.inject({ method: 'PATCH', url: '/api/regions/us-east', payload: { negativeTtlMs: -1 } })).statusCode).toBe(400);
    await app.inject('/edge/us-east/content/999998');
    await app.inject('/edge/us-east/content/999998');
    expect(remembered()).toBe(1); // off: every read asks the database
  });

  it('PATCH mode ttl makes a region ignore origin changes; back to cdc flushes it', async () => {
    const clock = new ManualClock();
    const { app, topology } = await testApp({ clock });
    const record = await createContent(app, topology, { slug: 'a', title: 'v1' });
    await clock.advanceAsync(1_000);
    expect((await app.inject({ method: 'PATCH', url: '/api/regions/eu-west', payload: { mode: 'ttl' } })).json()).toMatchObject({ mode: 'ttl' });
    for (const region of ['us-east', 'eu-west']) expect((await app.inject(`/edge/${region}/content/${record.id}`)).headers['x-cache']).toBe('MISS');

    const published = once(topology.events, 'invalidation.published');
    await app.inject({ method: 'PUT', url: `/api/content/${record.id}`, payload: { title: 'v2' } });
    const [event] = (await published) as [InvalidationStatus];
    await clock.advanceAsync(1_000);
    expect((await app.inject(`/edge/us-east/content/${record.id}`)).json()).toMatchObject({ title: 'v2' });
    const ignored = await app.inject(`/edge/eu-west/content/${record.id}`);
    expect(ignored.headers['x-cache']).toBe('HIT');
    expect(ignored.json()).toMatchObject({ title: 'v1' });
    expect((await app.inject(`/api/invalidations/${event.id}`)).json<InvalidationStatus>().regions['eu-west']).toMatchObject({ skipped: true });

    const flushed = once(topology.events, 'region.flushed');
    expect((await app.inject({ method: 'PATCH', url: '/api/regions/eu-west', payload: { mode: 'cdc' } })).statusCode).toBe(200);
    await flushed;
    const fresh = await app.inject(`/edge/eu-west/content/${record.id}`);
    expect(fresh.headers['x-cache']).toBe('MISS');
    expect(fresh.json()).toMatchObject({ title: 'v2' });
  });

  it('PATCH delayMs changes when the next purge reaches the region', async () => {
    const clock = new ManualClock();
    const { app } = await testApp({ clock });
    expect((await app.inject({ method: 'PATCH', url: '/api/regions/ap-south', payload: { delayMs: 50 } })).json()).toMatchObject({ delayMs: 50 });
    const t0 = clock.now();
    const id = (await app.inject({ method: 'POST', url: '/api/invalidate', payload: { keys: ['k'] } })).json<InvalidationStatus>().id;
    await clock.advanceAsync(50);
    const status = (await app.inject(`/api/invalidations/${id}`)).json<InvalidationStatus>();
    expect(status.regions['ap-south']!.appliedAt).toBe(t0 + 50);
    expect(status.regions['us-east']!.appliedAt).toBeNull();
  });
});
