import type { FastifyPluginAsync } from 'fastify';
import { VERSION } from 'freshcache';
import type { AppOptions } from '../app.js';
import { clusterSeeds } from './failovers.js';

/**
 * Features of the mission not built yet. The dashboard reads them to show "not enabled" instead
 * of a page that fails; each turns true when its routes exist. `cluster` is the deployment's:
 * true when its Redis is a Redis Cluster (slots to show and move, failovers to watch).
 */
const FEATURES = { warming: false, audit: false, backup: false } as const;

export const infoRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
  const { config } = topology;
  const info = {
    name: 'freshcache',
    version: VERSION,
    nodeId: config.nodeId,
    regions: config.regions.map((r) => r.name),
    roles: { regions: [...config.roles.regions], relay: config.roles.relay },
    adapters: { origin: config.origin.kind, capture: config.capture.kind, log: config.log.kind, l2: config.l2.kind },
    /** The names of the apps this process runs on top of the kernel (the demo's, when it runs): the dashboard shows their pages only then. */
    apps: topology.apps.map((app) => app.name),
    features: { cluster: clusterSeeds(topology).length > 0, ...FEATURES },
    /** Whether /api/chaos answers here (the control process of `freshcache up`, see chaos.ts): the Cluster page offers its actions only then. */
    chaos: Boolean(process.env.FRESHCACHE_UP_CONTROL),
  };
  app.get(
    '/api/info',
    { schema: { tags: ['ops'], summary: 'What this process runs: version, node id, regions, roles, adapters, apps, and which features are enabled' } },
    async () => info,
  );
};
