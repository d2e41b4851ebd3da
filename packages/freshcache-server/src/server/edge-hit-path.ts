import type { IncomingMessage, ServerResponse } from 'node:http';
import { pushCacheHeaders } from './cache-headers.js';
import { jsonBody } from './json-body.js';
import type { EdgeRoute } from './edge-route.js';
import type { Topology } from '../topology/topology.js';

/**
 * The hit path of an edge: a GET of a declared edge route (edge-route.ts) whose entry is fresh in
 * the region's L1 is answered here, before Fastify routes, validates and serialises it. This is
 * how edge caches keep hits cheap (the whole Fastify pipeline measured about a quarter of a hit's
 * CPU time). Anything else (a miss, STALE, an unknown region, a bad parameter, a query string,
 * another method) returns false and goes through the route's Fastify handler, which gives the
 * same answer with the same headers.
 *
 * The response body of a value is serialised once, with its length: an entry's value never
 * changes (a change at the origin makes a new entry and a new object). The headers go to
 * `writeHead` as one flat array, which node takes as it is (an object would be built, then walked
 * key by key).
 */
export function edgeHitPath(topology: Topology, routes: readonly EdgeRoute[]): (request: IncomingMessage, response: ServerResponse) => boolean {
  const bodies = new WeakMap<object, { body: string; length: string }>();
  return (request, response) => {
    if (request.method !== 'GET' || routes.length === 0) return false;
    const url = request.url ?? '';
    let route: EdgeRoute | undefined;
    let found: { region: string; key: string } | undefined;
    for (let i = 0; i < routes.length && found === undefined; i++) found = (route = routes[i]!).match(url);
    if (!found) return false;
    const started = performance.now();
    const region = topology.regions.get(found.region);
    if (!region) return false;
    const hit = region.cache.peekFresh(found.key);
    // A primitive value has no WeakMap slot; it is rare at the edge, so Fastify serialises it.
    if (!hit || typeof hit.value !== 'object' || hit.value === null) return false;
    let serialised = bodies.get(hit.value);
    if (serialised === undefined) {
      const body = jsonBody(hit.value);
      bodies.set(hit.value, (serialised = { body, length: String(Buffer.byteLength(body)) }));
    }
    const traced = request.headers['x-request-id'];
    const headers = ['content-type', 'application/json; charset=utf-8', 'content-length', serialised.length];
    response.writeHead(200, pushCacheHeaders(headers, region.name, hit, typeof traced === 'string' ? traced : undefined));
    // A string, as Fastify's route sends it: node writes it with the head in one piece, both as UTF-8.
    response.end(serialised.body);
    topology.metrics.observeEdgeRequest(region.name, route!.name, hit.state, (performance.now() - started) / 1000);
    return true;
  };
}
