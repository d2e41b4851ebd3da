import type { FastifyPluginAsync } from 'fastify';
import type { Topology } from '../../topology/topology.js';
import { setCacheHeaders } from '../cache-headers.js';
import type { EdgeParams, EdgeRoute } from '../edge-route.js';
import { errorSchema } from '../error-handling.js';
import { jsonBody } from '../json-body.js';

/** The Fastify side of the declared edge routes: misses, STALE, errors (see edge-route.ts). */
export const edgeRoutes: FastifyPluginAsync<{ topology: Topology; routes: readonly EdgeRoute[] }> = async (app, { topology, routes }) => {
  const accessLog = topology.logger.isLevelEnabled('debug');
  for (const route of routes) {
    const { load, read } = route.options;
    app.get<{ Params: EdgeParams & { region: string } }>(
      route.path,
      {
        schema: {
          tags: ['edge'],
          summary: route.options.summary ?? `Read ${route.template.source} through one region's cache (L1 → L2 → loader)`,
          description: 'Headers: X-Cache (HIT | MISS | STALE), X-Cache-Region, X-Cache-Version (origin version), Age (seconds).',
          params: { type: 'object', properties: route.params, required: Object.keys(route.params) },
          response: { ...(route.options.response ? { 200: route.options.response } : {}), 404: errorSchema, 400: errorSchema, 503: errorSchema },
        },
        // The edge serves what the cache holds, as the hit path does: a value someone stored under
        // the route's key with PUT /api/cache is served as it is, not refused (a 500) by a schema.
        serializerCompiler: () => (data) => jsonBody(data),
      },
      async (request, reply) => {
        const started = performance.now();
        const region = topology.region(request.params.region);
        const params = request.params;
        const lookup = read
          ? await read(region, params)
          : await region.cache.lookupOrLoad(route.template.render(params), (context) => load!(params, context));
        setCacheHeaders(reply, region.name, lookup, accessLog);
        topology.metrics.observeEdgeRequest(region.name, route.name, lookup.state, (performance.now() - started) / 1000);
        return lookup.value;
      },
    );
  }
};
