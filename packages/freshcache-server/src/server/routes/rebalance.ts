import type { FastifyPluginAsync } from 'fastify';
import { FreshcacheError } from 'freshcache';
import type { RedisTarget } from '../../config.js';
import { parseAddress, RedisClusterAdmin } from '../../topology/redis-cluster-admin.js';
import type { PreparedOperation, RebalanceProgress } from '../../topology/redis-cluster-admin.js';
import { prepareAddUnderUp, stopOnceRemoved, UpClient } from '../../tools/up-client.js';
import type { AppOptions } from '../app.js';
import { errorSchema } from '../error-handling.js';

const progressSchema = {
  type: 'object',
  required: ['operation', 'node', 'phase', 'movedSlots', 'plannedSlots', 'moves', 'startedAt', 'finishedAt', 'error'],
  properties: {
    operation: { type: 'string', enum: ['add-node', 'remove-node', 'rebalance'] },
    node: { type: ['string', 'null'] },
    phase: { type: 'string', enum: ['joining', 'moving', 'forgetting', 'done', 'failed'] },
    movedSlots: { type: 'integer' },
    plannedSlots: { type: 'integer' },
    moves: {
      type: 'array',
      items: { type: 'object', required: ['from', 'to', 'slots'], properties: { from: { type: 'string' }, to: { type: 'string' }, slots: { type: 'integer' } } },
    },
    startedAt: { type: 'number' },
    finishedAt: { type: ['number', 'null'] },
    error: { type: ['string', 'null'] },
  },
} as const;

/** The event stream hears a running operation at most this often (and at every phase and announced move). */
const EVENT_INTERVAL_MS = 250;

type RebalanceBody = { action: 'add-node' | 'remove-node' | 'rebalance'; node?: string };

/**
 * Resharding the deployment's Redis Cluster (the L2's, or the log's when only the log is on a
 * cluster): add a primary, remove one, or rebalance, one operation at a time per control process.
 * POST answers 202 once the input has been checked against the cluster and the slots start to
 * move; GET and the `rebalance.progress` events of /api/events follow it to the end. On the
 * control process of `freshcache up --redis cluster`, add-node without a node has up start the new
 * redis-server (and supervise it), and remove-node has up stop the server it started once it left.
 */
export const rebalanceRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
  let latest: RebalanceProgress | null = null;
  /** From the check of a request until its operation ends: one operation at a time. */
  let busy = false;
  let running: Promise<void> = Promise.resolve();
  const up = UpClient.fromEnv();

  const seeds = () => {
    const { l2, log } = topology.config;
    const targets: RedisTarget[] = [...(l2.kind === 'redis' ? [l2.redis] : []), ...(log.kind === 'redis' ? [log.redis] : [])];
    const cluster = targets.find((t) => 'cluster' in t);
    if (cluster && 'cluster' in cluster) return cluster.cluster;
    // A URL may still name a cluster node: the admin finds out, and answers bad_request if not.
    const url = targets.find((t) => 'url' in t);
    if (url && 'url' in url) {
      const parsed = new URL(url.url);
      return [{ host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) }];
    }
    throw new FreshcacheError('bad_request', 'this deployment keeps its L2 and its log in memory, not on a Redis Cluster: there are no slots to move');
  };

  // A stop waits for a running operation: cutting redis-cli off mid-slot would leave the slot open.
  app.addHook('onClose', async () => {
    await running;
  });

  app.get(
    '/api/rebalance',
    {
      schema: {
        tags: ['fleet'],
        summary: 'The resharding running on this control process, or the last one (null if none ran)',
        response: {
          200: { type: 'object', required: ['running', 'progress'], properties: { running: { type: 'boolean' }, progress: { anyOf: [progressSchema, { type: 'null' }] } } },
        },
      },
    },
    async () => ({ running: busy, progress: latest }),
  );

  app.post<{ Body: RebalanceBody }>(
    '/api/rebalance',
    {
      schema: {
        tags: ['fleet'],
        summary:
          'Add a Redis primary (node: host:port of a running, empty, cluster-enabled redis-server; under freshcache up --redis cluster, without node, up starts one), remove one (node: its id or host:port), or rebalance the slots',
        body: {
          type: 'object',
          required: ['action'],
          additionalProperties: false,
          properties: {
            action: { type: 'string', enum: ['add-node', 'remove-node', 'rebalance'] },
            node: { type: 'string', minLength: 1, maxLength: 256 },
          },
        },
        response: { 202: progressSchema, 400: errorSchema, 404: errorSchema, 409: errorSchema, 503: errorSchema },
      },
    },
    async (request, reply) => {
      const { action, node } = request.body;
      if (busy) throw new FreshcacheError('conflict', `a ${latest?.operation ?? 'resharding'} is running: wait for it (GET /api/rebalance)`);
      if (action === 'remove-node' && node === undefined) throw new FreshcacheError('bad_request', 'remove-node needs node: the id or host:port of the primary');
      if (action === 'add-node' && node === undefined && !up) throw new FreshcacheError('bad_request', 'add-node needs node: host:port of the new server (only freshcache up starts one itself)');
      if (action === 'rebalance' && node !== undefined) throw new FreshcacheError('bad_request', 'rebalance takes no node');
      const admin = new RedisClusterAdmin({ seeds: seeds() });
      // Checked against the cluster before answering: a bad request moves nothing.
      let prepared: PreparedOperation;
      busy = true;
      try {
        if (action === 'add-node') prepared = node === undefined ? await prepareAddUnderUp(admin, up!) : await admin.prepareAdd(parseAddress(node));
        else if (action === 'remove-node') prepared = up ? stopOnceRemoved(await admin.prepareRemove(node!), up) : await admin.prepareRemove(node!);
        else prepared = await admin.prepareRebalance();
      } catch (error) {
        busy = false;
        throw error;
      }
      let lastEvent = 0;
      const report = (progress: RebalanceProgress) => {
        const phaseChanged = progress.phase !== latest?.phase || progress.moves.length !== latest.moves.length;
        latest = progress;
        const now = Date.now();
        if (phaseChanged || now - lastEvent >= EVENT_INTERVAL_MS) {
          lastEvent = now;
          topology.events.emit('app.event', { name: 'rebalance.progress', data: progress });
        }
      };
      running = prepared.run(report).then((result) => {
        if (result.phase === 'failed') topology.logger.warn({ error: result.error }, `${result.operation} failed`);
        else topology.logger.info({ movedSlots: result.movedSlots }, `${result.operation} done`);
        busy = false;
      });
      return reply.code(202).send(latest);
    },
  );
};
