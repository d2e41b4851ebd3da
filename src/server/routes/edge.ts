import type { FastifyPluginAsync } from 'fastify';
import type { AppOptions } from '../app.js';
import { setCacheHeaders } from '../cache-headers.js';
import { errorSchema } from '../error-handling.js';
import { contentRecordSchema } from '../validation.js';

export const edgeRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
  const accessLog = topology.logger.isLevelEnabled('debug');
  app.get<{ Params: { region: string; id: number } }>(
    '/edge/:region/content/:id',
    {
      schema: {
        tags: ['edge'],
        summary: "Read content through one region's cache (L1 → L2 → origin)",
        description: 'Headers: X-Cache (HIT | MISS | STALE), X-Cache-Region, X-Cache-Version (origin version), Age (seconds).',
        params: {
          type: 'object',
          properties: { region: { type: 'string' }, id: { type: 'integer', minimum: 1, maximum: 9_007_199_254_740_991 } },
          required: ['region', 'id'],
        },
        response: { 200: contentRecordSchema, 404: errorSchema, 400: errorSchema, 503: errorSchema },
      },
      // The edge serves what the cache holds, as the hit path does: a value someone stored under a
      // content key with PUT /api/cache is served as it is, not refused (a 500) by the record schema.
      serializerCompiler: () => (data) => JSON.stringify(data),
    },
    async (request, reply) => {
      const started = performance.now();
      const region = topology.region(request.params.region);
      const lookup = await region.readContent(request.params.id);
      setCacheHeaders(reply, region.name, lookup, accessLog);
      topology.metrics.observeEdgeRequest(region.name, 'content', lookup.state, (performance.now() - started) / 1000);
      return lookup.value;
    },
  );
};
