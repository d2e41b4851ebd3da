import type { FastifyPluginAsync } from 'fastify';
import { validateRegionSettings } from '../../config.js';
import type { RegionSettings } from '../../topology/region.js';
import type { Region } from '../../topology/region.js';
import type { AppOptions } from '../app.js';
import { errorSchema } from '../error-handling.js';

function describe(region: Region) {
  return { name: region.name, ...region.config };
}

export const regionRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
  app.get('/api/regions', { schema: { tags: ['regions'], summary: 'Regions with their delay, jitter, strategy, mode and TTL' } }, async () => ({
    items: [...topology.regions.values()].map(describe),
  }));

  app.patch<{ Params: { name: string }; Body: Partial<RegionSettings> }>(
    '/api/regions/:name',
    {
      schema: {
        tags: ['regions'],
        summary: "Change a region's delay, jitter, strategy (eager | lazy), mode (cdc | ttl) or TTL",
        description: 'Switching a region from ttl to cdc flushes its cache: in ttl mode it ignored changes, so what it holds may be stale.',
        params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        body: {
          type: 'object',
          properties: {
            delayMs: { type: 'number', minimum: 0, maximum: 600_000 },
            jitter: { type: 'number', minimum: 0, maximum: 1 },
            strategy: { type: 'string', enum: ['eager', 'lazy'] },
            mode: { type: 'string', enum: ['cdc', 'ttl'] },
            ttlMs: { type: 'number', exclusiveMinimum: 0, maximum: 86_400_000 },
            maxStaleMs: { type: 'number', minimum: 0, maximum: 86_400_000 },
          },
          additionalProperties: false,
          minProperties: 1,
        },
        response: { 400: errorSchema, 404: errorSchema },
      },
    },
    async (request) => {
      const region = topology.region(request.params.name);
      validateRegionSettings(request.body);
      region.update(request.body);
      return describe(region);
    },
  );
};
