import type { FastifyPluginAsync } from 'fastify';
import { RedisFailoverWatch } from '../../topology/redis-failover-watch.js';
import type { Topology } from '../../topology/topology.js';
import type { AppOptions } from '../app.js';

const nodeSchema = { type: 'object', required: ['id', 'address'], properties: { id: { type: 'string' }, address: { type: 'string' } } } as const;

const failoverSchema = {
  type: 'object',
  required: ['at', 'failedNode', 'promotedNode', 'slots'],
  properties: {
    at: { type: 'number' },
    failedNode: nodeSchema,
    promotedNode: nodeSchema,
    slots: { type: 'array', items: { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2 } },
  },
} as const;

/** The Redis Cluster seeds of the deployment (the L2's and the log's); none when its Redis is standalone or embedded. */
export function clusterSeeds(topology: Topology): { host: string; port: number }[] {
  const { l2, log } = topology.config;
  const seeds = new Map<string, { host: string; port: number }>();
  for (const target of [...(l2.kind === 'redis' ? [l2.redis] : []), ...(log.kind === 'redis' ? [log.redis] : [])]) {
    if ('cluster' in target) for (const seed of target.cluster) seeds.set(`${seed.host}:${seed.port}`, seed);
  }
  return [...seeds.values()];
}

/**
 * The failover watch of a deployment on a Redis Cluster (undefined otherwise): each failover it
 * sees is logged and sent to /api/events as `redis.failover`.
 */
export function failoverWatch(topology: Topology): RedisFailoverWatch | undefined {
  const seeds = clusterSeeds(topology);
  if (seeds.length === 0) return undefined;
  return new RedisFailoverWatch({
    seeds,
    onFailover: (failover) => {
      topology.logger.warn(
        { failedNode: failover.failedNode, promotedNode: failover.promotedNode, slots: failover.slots },
        `Redis failover: ${failover.promotedNode.address} took over from ${failover.failedNode.address}`,
      );
      topology.events.emit('app.event', { name: 'redis.failover', data: failover });
    },
  });
}

/** `GET /api/failovers`: the last failovers the watch saw (it looks while an /api/events stream is open). */
export const failoverRoutes: FastifyPluginAsync<AppOptions & { watch: RedisFailoverWatch | undefined }> = async (app, { watch }) => {
  app.addHook('onClose', async () => {
    await watch?.close();
  });
  app.get(
    '/api/failovers',
    {
      schema: {
        tags: ['fleet'],
        summary: 'The last 20 Redis Cluster failovers this process saw, newest first (empty without a Redis Cluster)',
        description:
          'The process looks at the cluster (CLUSTER NODES, every second) while an /api/events stream is open (`watching`; `lookedAt` is its last look), and each failover it sees is also a `redis.failover` event.',
        response: {
          200: {
            type: 'object',
            required: ['watching', 'lookedAt', 'items'],
            properties: { watching: { type: 'boolean' }, lookedAt: { type: ['number', 'null'] }, items: { type: 'array', items: failoverSchema } },
          },
        },
      },
    },
    async () => ({ watching: watch?.watching ?? false, lookedAt: watch?.lookedAt ?? null, items: watch?.recent() ?? [] }),
  );
};
