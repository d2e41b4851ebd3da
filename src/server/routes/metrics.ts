import type { FastifyPluginAsync } from 'fastify';
import type { AppOptions } from '../app.js';

export const metricsRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics (text exposition format)' } }, async (_request, reply) => {
    reply.header('content-type', topology.metrics.contentType);
    return topology.metrics.text();
  });

  app.get(
    '/api/metrics',
    { schema: { tags: ['ops'], summary: 'Metrics per region as JSON, with p50/p90/p95/p99 latency and invalidation lag in ms' } },
    async () => ({ at: new Date(topology.clock.now()).toISOString(), ...(await topology.metrics.snapshot()) }),
  );
};
