import type { AddressInfo } from 'node:net';
import { expect, it, onTestFinished } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import { edgeRoute } from '../../packages/freshcache-server/src/server/edge-route.js';
import { testTopology } from '../testkit/test-topology.js';

/**
 * Values a loader reads from PostgreSQL come back typed from every tier (an int8 as a BigInt, a
 * timestamptz as a Date). JSON has no BigInt: the HTTP face writes it as a decimal string, as pg
 * does by default, on every path that answers with a cached value.
 */
it('answers a cached value holding a BigInt and a Date as JSON on the edge route (both paths) and /api/cache', async () => {
  const row = { id: 9007199254740993n, at: new Date('2026-12-01T00:00:00.000Z') };
  const route = edgeRoute({ path: '/edge/:region/rows/:id', key: 'row:{id}', params: { id: { type: 'string', pattern: '^[0-9]+$' } }, load: () => row });
  const clock = new ManualClock();
  const topology = await testTopology({ clock });
  await clock.advanceAsync(1_000);
  const app = await buildApp({ topology, edgeRoutes: [route] });
  onTestFinished(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const expected = { id: '9007199254740993', at: '2026-12-01T00:00:00.000Z' };

  const miss = await app.inject('/edge/us-east/rows/1'); // Fastify's route loads it
  expect([miss.statusCode, miss.json()]).toEqual([200, expected]);
  const hit = await fetch(`${base}/edge/us-east/rows/1`); // the hit path answers from L1
  expect([hit.status, hit.headers.get('x-cache'), await hit.json()]).toEqual([200, 'HIT', expected]);
  const api = await app.inject('/api/cache/row:1?region=us-east');
  expect(api.statusCode, api.body).toBe(200);
  expect(api.json()).toMatchObject({ value: expected });
});
