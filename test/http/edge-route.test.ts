import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { FreshcacheError } from '../../packages/freshcache/src/engine/errors.js';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import { edgeRoute } from '../../packages/freshcache-server/src/server/edge-route.js';
import { contentEdgeRoute } from '../../packages/freshcache-server/src/demo/content-routes.js';
import { testTopology } from '../testkit/test-topology.js';

const COMPARED = ['content-type', 'content-length', 'x-cache', 'x-cache-region', 'x-cache-version', 'age', 'x-request-id'];

/** An app with the demo's edge route and a second one, users from a Map, on a real socket. */
async function usersApp() {
  const users = new Map([['ada', { id: 'ada', name: 'Ada' }]]);
  const loads: string[] = [];
  const usersRoute = edgeRoute({
    path: '/edge/:region/users/:id',
    key: 'user:{id}',
    params: { id: { type: 'string', pattern: '^[a-z0-9]+$' } },
    load: ({ id }, context) => {
      loads.push(String(id));
      const user = users.get(String(id));
      if (!user) throw new FreshcacheError('not_found', `no user ${String(id)}`);
      context.version = 7;
      return user;
    },
  });
  // A fake clock: no invalidation lands between a test's requests unless it says so.
  const clock = new ManualClock();
  const topology = await testTopology({ clock });
  await clock.advanceAsync(1_000); // anything the start published lands everywhere first
  const app = await buildApp({ topology, edgeRoutes: [contentEdgeRoute, usersRoute] });
  onTestFinished(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  // Counts the reads that went through Fastify's route: the hit path only peeks.
  const region = topology.region('us-east');
  let routeReads = 0;
  const lookupOrLoad = region.cache.lookupOrLoad.bind(region.cache);
  region.cache.lookupOrLoad = (...args) => {
    routeReads++;
    return lookupOrLoad(...args);
  };
  return { app, topology, base, loads, routeReads: () => routeReads };
}

/**
 * The same request through inject (Fastify only) and then the socket (hit path first). Fastify's
 * read comes first: an entry just written to L1 is checked against the invalidations by its first
 * read, and only then can the hit path take it.
 */
async function bothWays(app: Awaited<ReturnType<typeof usersApp>>['app'], base: string, path: string) {
  const headers = { 'x-request-id': 'trace-1' };
  const viaFastify = await app.inject({ url: path, headers });
  const viaSocket = await fetch(base + path, { headers });
  const body = await viaSocket.text();
  expect([viaSocket.status, body]).toEqual([viaFastify.statusCode, viaFastify.body]);
  for (const name of COMPARED) expect([name, viaSocket.headers.get(name)]).toEqual([name, viaFastify.headers[name] === undefined ? null : String(viaFastify.headers[name])]);
  return viaSocket;
}

describe('a declared edge route', () => {
  it('reads a miss through its loader, then answers the hit before Fastify with the same status, headers and body', async () => {
    const { app, base, loads, routeReads } = await usersApp();

    const miss = await fetch(`${base}/edge/us-east/users/ada`);
    expect(miss.status).toBe(200);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.headers.get('x-cache-version')).toBe('7');
    expect(await miss.json()).toEqual({ id: 'ada', name: 'Ada' });
    expect([loads, routeReads()]).toEqual([['ada'], 1]);

    const hit = await bothWays(app, base, '/edge/us-east/users/ada');
    expect(hit.headers.get('x-cache')).toBe('HIT');
    // inject ran the route once; the socket's hit did not reach it, and nothing loaded again.
    expect([loads, routeReads()]).toEqual([['ada'], 2]);

    // Another region has its own cache: a miss there.
    const elsewhere = await fetch(`${base}/edge/eu-west/users/ada`);
    expect(elsewhere.headers.get('x-cache')).toBe('MISS');
    expect(loads).toEqual(['ada', 'ada']);

    // The hit path's duration is observed under the route's name (the key's literal prefix).
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/freshcache_edge_request_duration_seconds_count\{[^}]*route="user"[^}]*cache="HIT"[^}]*\} [1-9]/);
  });

  it('answers bad parameters, unknown regions and unknown ids as the route does (400, 404)', async () => {
    const { app, topology, base } = await usersApp();
    // Fresh in L1 under the keys these URLs render to, so a lax hit path would answer them.
    const cache = topology.region('us-east').cache;
    await cache.set('user:Ada', { id: 'Ada' });
    await (await fetch(`${base}/edge/us-east/users/ada`)).arrayBuffer();
    for (const [path, status, code] of [
      ['/edge/us-east/users/Ada', 400, 'bad_request'], // fails the id's pattern
      ['/edge/mars/users/ada', 404, 'unknown_region'],
      ['/edge/us-east/users/bob', 404, 'not_found'],
    ] as const) {
      await cache.lookup('user:Ada'); // verified against the invalidations applied since the write
      expect(cache.peekFresh('user:Ada')?.value).toEqual({ id: 'Ada' });
      const answer = await bothWays(app, base, path);
      expect([path, answer.status, ((await app.inject({ url: path })).json() as { error: { code: string } }).error.code]).toEqual([path, status, code]);
    }
  });

  it('serves a value that is not an object (stored with the cache API under the route key) the same both ways', async () => {
    const { app, topology, base } = await usersApp();
    await topology.region('us-east').cache.set('user:n1', 42);
    const answer = await bothWays(app, base, '/edge/us-east/users/n1');
    expect([answer.status, answer.headers.get('x-cache')]).toEqual([200, 'HIT']);
  });

  it('refuses a declaration whose path and key do not fit together', () => {
    const load = () => ({});
    expect(() => edgeRoute({ path: '/edge/users/:id', key: 'user:{id}', load })).toThrow(/:region/);
    expect(() => edgeRoute({ path: '/edge/:region/users/:id/:tab', key: 'user:{id}', load })).toThrow(/:tab is not in the key/);
    expect(() => edgeRoute({ path: '/edge/:region/users/:id', key: 'user:{id}:{org}', load })).toThrow(/\{org\} is not a path parameter/);
    expect(() => edgeRoute({ path: '/edge/:region/users/:id', key: 'user:{id}' })).toThrow(/exactly one of load and read/);
  });
});
