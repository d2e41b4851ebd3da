import type { FastifyPluginAsync } from 'fastify';
import type { Region, RegionConfig } from '../../topology/region.js';
import { RegionPatchSchema } from '../../topology/region-schema.js';
import type { RegionPatch } from '../../topology/region-schema.js';
import type { AppOptions } from '../app.js';
import { errorSchema } from '../error-handling.js';

function describe(region: Region) {
  return { name: region.name, ...region.config, served: true };
}

export const regionRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
  // Every region the deployment declares: those this process serves as they run now, the others
  // (served by other processes; all of them on the control process of `up`) as configured, with
  // the changes made at run time over it.
  const notServed = ({ name, delayMs, jitter, strategy, mode, ttlMs, maxStaleMs, negativeTtlMs }: RegionConfig) => ({ name, delayMs, jitter, strategy, mode, ttlMs, maxStaleMs, negativeTtlMs, served: false });
  const describeByName = (name: string) => {
    const region = topology.regions.get(name);
    return region ? describe(region) : notServed(topology.settingsOf(topology.config.regions.find((r) => r.name === name)!));
  };
  app.get('/api/regions', { schema: { tags: ['regions'], summary: 'Regions with their delay, jitter, strategy, mode and TTL; served: whether this process serves it' } }, async () => ({
    items: topology.config.regions.map((config) => describeByName(config.name)),
  }));

  app.patch<{ Params: { name: string }; Body: RegionPatch }>(
    '/api/regions/:name',
    {
      schema: {
        tags: ['regions'],
        summary: "Change a region's delay, jitter, strategy (eager | lazy), mode (cdc | ttl) or TTL, on every node that serves it",
        description:
          'Sent to any process (the control process of freshcache up too): a control event on the invalidation log carries the change to every node of the region, and it is kept for the nodes that start later. Switching a region from ttl to cdc flushes its cache: in ttl mode it ignored changes, so what it holds may be stale.',
        params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        // The region schema the config file uses: both doors refuse the same values (docs/api.md has the limits).
        body: RegionPatchSchema,
        response: { 400: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    async (request) => {
      const changed = await topology.changeRegion(request.params.name, request.body);
      const region = topology.regions.get(request.params.name);
      return region ? describe(region) : notServed(changed);
    },
  );
};
