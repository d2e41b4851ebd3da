import { once } from 'node:events';
import { expect, it, onTestFinished } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import type { ContentRecord } from '../../packages/freshcache-server/src/demo/content-store.js';
import type { InvalidationStatus } from '../../packages/freshcache-server/src/topology/invalidation-tracker.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { testApp } from '../testkit/test-topology.js';
import { createContent } from './http-kit.js';

const COMPARED = ['content-type', 'content-length', 'x-cache', 'x-cache-region', 'x-cache-version', 'age', 'x-request-id'];

it('answers an L1 hit before Fastify with the same status, headers and body as the Fastify route', async () => {
  // A fake clock: the region's delay passes only when the test says so.
  const clock = new ManualClock();
  const { app, topology } = await testApp({ clock });
  const record = await createContent(app, topology, { slug: 'fast', title: 'Fast' });
  await clock.advanceAsync(1_000); // the insert's own invalidation lands everywhere first
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  onTestFinished(() => app.close());
  const path = `/edge/us-east/content/${record.id}`;
  const region = topology.region('us-east');

  const miss = await fetch(base + path);
  expect(miss.headers.get('x-cache')).toBe('MISS');
  await miss.arrayBuffer();

  // Fastify's own answer to the hit (inject never goes through the server's hit path)…
  const viaFastify = await app.inject({ url: path, headers: { 'x-request-id': 'trace-1' } });
  // …and the hit path's, over the socket: the route is not run for it.
  let routeRuns = 0;
  const lookupOrLoad = region.cache.lookupOrLoad.bind(region.cache);
  region.cache.lookupOrLoad = (...args) => {
    routeRuns++;
    return lookupOrLoad(...args);
  };
  const viaHitPath = await fetch(base + path, { headers: { 'x-request-id': 'trace-1' } });
  expect(routeRuns).toBe(0);
  expect(viaHitPath.status).toBe(viaFastify.statusCode);
  expect(await viaHitPath.text()).toBe(viaFastify.body);
  for (const name of COMPARED) expect([name, viaHitPath.headers.get(name)]).toEqual([name, String(viaFastify.headers[name])]);

  // Not a fresh L1 hit (an unknown region, a bad id, an unknown id): Fastify answers, errors and all.
  expect((await fetch(`${base}/edge/mars/content/${record.id}`)).status).toBe(404);
  expect((await fetch(`${base}/edge/us-east/content/abc`)).status).toBe(400);
  expect((await fetch(`${base}/edge/us-east/content/999999`)).status).toBe(404);

  // A change at the origin travels through the relay and the log. Until us-east's delay has
  // passed, the edge still answers the old value as a hit…
  const published = once(topology.events, 'invalidation.published') as Promise<[InvalidationStatus]>;
  const changed = await app.inject({ method: 'PUT', url: `/api/content/${record.id}`, payload: { title: 'Fast, edited' } });
  expect(changed.statusCode, changed.body).toBe(200);
  const fresh = changed.json<ContentRecord>();
  const [event] = await published;
  const before = await fetch(base + path);
  expect(before.headers.get('x-cache')).toBe('HIT');
  expect(await before.json()).toEqual(record);

  // …and once the region applied it, the entry is no longer a fresh hit: the route reads through
  // again and answers the new value.
  const applied = appliedIn(topology, 'us-east', event.id);
  await clock.advanceAsync(region.config.delayMs);
  await applied;
  routeRuns = 0;
  const reread = await fetch(base + path);
  expect(reread.headers.get('x-cache')).toBe('MISS');
  expect(reread.headers.get('x-cache-version')).toBe(String(fresh.version));
  expect(await reread.json()).toEqual(fresh);
  expect(routeRuns).toBe(1);
});

/** Resolves when `region` has applied the invalidation `id`. */
function appliedIn(topology: Topology, region: string, id: number): Promise<void> {
  return new Promise((resolve) => {
    const listener = (status: InvalidationStatus & { region: string }) => {
      if (status.region !== region || status.id !== id) return;
      topology.events.off('invalidation.applied', listener);
      resolve();
    };
    topology.events.on('invalidation.applied', listener);
  });
}
