import type { FastifyPluginAsync } from 'fastify';
import { HISTORY_WINDOWS } from '../../observability/metrics-history.js';
import type { HistoryWindow } from '../../observability/metrics-history.js';
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

  app.get<{ Querystring: { window: HistoryWindow } }>(
    '/api/metrics/history',
    {
      schema: {
        tags: ['ops'],
        summary: 'Metrics per region over the last minute (1 s steps), 5 minutes (1 s) or hour (10 s): rates, hit ratio, latency and lag percentiles',
        querystring: {
          type: 'object',
          properties: { window: { type: 'string', enum: [...HISTORY_WINDOWS], default: '1m' } },
          additionalProperties: false,
        },
      },
    },
    async (request) => topology.metrics.history.window(request.query.window),
  );
};
