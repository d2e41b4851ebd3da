import { expect, it, onTestFinished } from 'vitest';
import { testApp } from '../testkit/test-topology.js';

const COMPARED = ['content-type', 'content-length', 'x-cache', 'x-cache-region', 'x-cache-version', 'age', 'x-request-id'];

it('answers an L1 hit before Fastify with the same status, headers and body as the Fastify route', async () => {
  const { app, topology } = await testApp();
  const record = await topology.createContent({ slug: 'fast', title: 'Fast' });
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
  const readContent = region.readContent.bind(region);
  region.readContent = (id) => {
    routeRuns++;
    return readContent(id);
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

  // After an invalidation the entry is no longer a fresh hit: the route reads through again.
  await topology.purge({ keys: [`content:${record.id}`], tags: [], prefixes: [] });
  region.cache.l1.remove(`content:${record.id}`);
  await region.cache.l2!.delete(`content:${record.id}`);
  routeRuns = 0;
  const reread = await fetch(base + path);
  expect(reread.headers.get('x-cache')).toBe('MISS');
  expect(routeRuns).toBe(1);
});
