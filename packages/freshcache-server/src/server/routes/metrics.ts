import type { FastifyPluginAsync } from 'fastify';
import { HISTORY_WINDOWS, mergeHistory } from '../../observability/metrics-history.js';
import type { HistoryWindow, NodeHistoryAnswer } from '../../observability/metrics-history.js';
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
    async (request) => {
      const { window } = request.query;
      const others = await askOthers<NodeHistoryAnswer>(topology, `/api/metrics/history/node?window=${window}`, request.headers.authorization);
      if (!others) return topology.metrics.history.window(window);
      const own = topology.regions.size > 0 ? [topology.metrics.history.nodeWindow(window)] : [];
      const answered = others.flatMap((answer) => (answer.body ? [answer.body] : []));
      return { ...mergeHistory(window, own[0]?.stepMs ?? answered[0]?.stepMs ?? 1_000, [...own, ...answered]), nodes: nodesOf(topology, own.length > 0, others) };
    },
  );

  app.get<{ Querystring: { window: HistoryWindow } }>(
    '/api/metrics/history/node',
    {
      schema: {
        tags: ['ops'],
        summary: "This node's own history in a form that adds up across nodes (counts per step, and sketches of each step's latencies and lags): what /api/metrics/history merges",
        querystring: {
          type: 'object',
          properties: { window: { type: 'string', enum: [...HISTORY_WINDOWS], default: '1m' } },
          additionalProperties: false,
        },
      },
    },
    async (request) => topology.metrics.history.nodeWindow(request.query.window),
  );
};

/** How long a node may take to send its figures before /api/metrics answers without them. */
const NODE_TIMEOUT_MS = 1_000;

/**
 * The fleet's metrics, when other nodes serve regions: each one's `/api/metrics/node` merged with
 * this node's (counters summed, sketches merged). Undefined when this node is alone: its own
 * snapshot is the fleet's.
 */
async function fleetMetrics(topology: Topology, authorization: string | undefined) {
  const others = await askOthers<NodeMetrics>(topology, '/api/metrics/node', authorization);
  if (!others) return undefined;
  const own = topology.regions.size > 0 ? [await topology.metrics.nodeSnapshot()] : [];
  const answered = others.flatMap((answer) => (answer.body ? [answer.body] : []));
  return { regions: mergeNodeMetrics([...own, ...answered]), nodes: nodesOf(topology, own.length > 0, others) };
}

/**
 * Asks every other node the registry lists as up and serving a region for `path`, in parallel,
 * each within NODE_TIMEOUT_MS: a node that does not answer in time is left out (and named), and
 * the rest still answer. Undefined when there is no other such node.
 */
async function askOthers<T>(topology: Topology, path: string, authorization: string | undefined): Promise<{ id: string; body: T | undefined }[] | undefined> {
  const listed = await topology.presence.registry.list().catch(() => []);
  const others = listed.filter((node) => node.id !== topology.config.nodeId && node.url !== null && node.state === 'up' && node.regions.length > 0);
  if (others.length === 0) return undefined;
  const headers: Record<string, string> = authorization ? { authorization } : {};
  return Promise.all(
    others.map(async (node) => {
      try {
        const response = await fetch(`${node.url}${path}`, { headers, signal: AbortSignal.timeout(NODE_TIMEOUT_MS) });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return { id: node.id, body: (await response.json()) as T };
      } catch {
        return { id: node.id, body: undefined };
      }
    }),
  );
}

function nodesOf(topology: Topology, ownIncluded: boolean, others: { id: string; body: unknown }[]) {
  return {
    reporting: [...(ownIncluded ? [topology.config.nodeId] : []), ...others.filter((answer) => answer.body !== undefined).map((answer) => answer.id)],
    unreachable: others.filter((answer) => answer.body === undefined).map((answer) => answer.id),
  };
}
