import type { FastifyPluginAsync } from 'fastify';
import { HISTORY_WINDOWS } from '../../observability/metrics-history.js';
import type { HistoryWindow } from '../../observability/metrics-history.js';
import type { AppOptions } from '../app.js';
import { mergeNodeMetrics } from '../../observability/fleet-metrics.js';
import type { NodeMetrics } from '../../observability/metrics.js';
import type { Topology } from '../../topology/topology.js';

export const metricsRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics (text exposition format)' } }, async (_request, reply) => {
    reply.header('content-type', topology.metrics.contentType);
    return topology.metrics.text();
  });

  app.get(
    '/api/metrics',
    {
      schema: {
        tags: ['ops'],
        summary: "Metrics per region as JSON, with p50/p90/p95/p99 latency and invalidation lag in ms: the whole fleet's, every node that serves a region adding its figures",
      },
    },
    async (request) => {
      const at = new Date(topology.clock.now()).toISOString();
      const fleet = await fleetMetrics(topology, request.headers.authorization);
      return fleet ? { at, ...fleet } : { at, ...(await topology.metrics.snapshot()) };
    },
  );

  app.get(
    '/api/metrics/node',
    { schema: { tags: ['ops'], summary: "This node's own figures in a form that adds up across nodes (counters, and percentile sketches): what /api/metrics merges" } },
    async () => topology.metrics.nodeSnapshot(),
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

/** How long a node may take to send its figures before /api/metrics answers without them. */
const NODE_TIMEOUT_MS = 1_000;

/**
 * The fleet's metrics, when other nodes serve regions: each one's `/api/metrics/node`, asked in
 * parallel, merged with this node's (counters summed, sketches merged). A node that does not
 * answer in time is listed under `nodes.unreachable`, and the rest still answer. Undefined when
 * this node is alone: its own snapshot is the fleet's.
 */
async function fleetMetrics(topology: Topology, authorization: string | undefined) {
  const listed = await topology.presence.registry.list().catch(() => []);
  const others = listed.filter((node) => node.id !== topology.config.nodeId && node.url !== null && node.state === 'up' && node.regions.length > 0);
  if (others.length === 0) return undefined;
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const answers = await Promise.all(
    others.map(async (node) => {
      try {
        const response = await fetch(`${node.url}/api/metrics/node`, { headers, signal: AbortSignal.timeout(NODE_TIMEOUT_MS) });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return { id: node.id, metrics: (await response.json()) as NodeMetrics };
      } catch {
        return { id: node.id, metrics: undefined };
      }
    }),
  );
  const own = topology.regions.size > 0 ? [{ id: topology.config.nodeId, metrics: await topology.metrics.nodeSnapshot() }] : [];
  const reporting = [...own, ...answers].filter((answer): answer is { id: string; metrics: NodeMetrics } => answer.metrics !== undefined);
  return {
    regions: mergeNodeMetrics(reporting.map((answer) => answer.metrics)),
    nodes: { reporting: reporting.map((answer) => answer.id), unreachable: answers.filter((answer) => answer.metrics === undefined).map((answer) => answer.id) },
  };
}
