import type { FastifyPluginAsync } from 'fastify';
import { FreshcacheError, type NodeView } from 'freshcache';
import type { RedisTarget } from '../../config.js';
import { describeRedisNodes } from '../../topology/redis-nodes.js';
import type { AppOptions } from '../app.js';
import { errorSchema } from '../error-handling.js';

const nullableNumber = { type: ['number', 'null'] } as const;

const freshcacheNodeSchema = {
  type: 'object',
  required: ['kind', 'id', 'roles', 'regions', 'url', 'drainable', 'version', 'startedAt', 'lastSeenAt', 'state', 'status'],
  properties: {
    kind: { const: 'freshcache' },
    id: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    regions: { type: 'array', items: { type: 'string' } },
    url: { type: ['string', 'null'] },
    drainable: { type: 'boolean' },
    version: { type: 'string' },
    startedAt: { type: 'number' },
    lastSeenAt: { type: 'number' },
    state: { type: 'string', enum: ['up', 'down'] },
    status: {
      type: 'object',
      required: ['health', 'l1', 'hitRatio', 'lagP99Ms', 'breaker', 'cursor', 'regions'],
      properties: {
        health: { type: 'string', enum: ['ok', 'degraded', 'draining'] },
        l1: { type: 'object', required: ['entries', 'bytes'], properties: { entries: { type: 'number' }, bytes: { type: 'number' } } },
        hitRatio: nullableNumber,
        lagP99Ms: nullableNumber,
        breaker: { type: ['string', 'null'], enum: ['closed', 'open', 'half-open', null] },
        cursor: { type: 'number' },
        regions: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            required: ['l1', 'hitRatio', 'lagP99Ms', 'cursor'],
            properties: {
              l1: { type: 'object', required: ['entries', 'bytes'], properties: { entries: { type: 'number' }, bytes: { type: 'number' } } },
              hitRatio: nullableNumber,
              lagP99Ms: nullableNumber,
              cursor: { type: 'number' },
            },
          },
        },
      },
    },
  },
} as const;

const redisNodeSchema = {
  type: 'object',
  required: ['kind', 'id', 'address', 'role', 'masterId', 'slots', 'health', 'replicationOffset', 'keys', 'memoryBytes', 'opsPerSec'],
  properties: {
    kind: { const: 'redis' },
    id: { type: 'string' },
    address: { type: 'string' },
    role: { type: 'string', enum: ['master', 'replica'] },
    masterId: { type: ['string', 'null'] },
    slots: { type: 'array', items: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 } },
    health: { type: 'string' },
    replicationOffset: nullableNumber,
    keys: nullableNumber,
    memoryBytes: nullableNumber,
    opsPerSec: nullableNumber,
  },
} as const;

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['id'] } as const;

/** Set on a drain forwarded to the node's own URL: the receiver must be that node, never forward again. */
const FORWARDED = 'x-freshcache-forwarded';
/** How long a forwarded drain may take to be accepted by the node. */
const FORWARD_TIMEOUT_MS = 5_000;

/**
 * The fleet: freshcache nodes (the node registry) and the Redis servers behind the log and the L2
 * (none when embedded). A drain is carried out by the node itself: a request for another node is
 * forwarded to its URL, the one honest place that can stop its work and leave its groups.
 */
export const nodeRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
  const registry = topology.presence.registry;
  const redisTargets = (): RedisTarget[] => {
    const { log, l2 } = topology.config;
    return [...(log.kind === 'redis' ? [log.redis] : []), ...(l2.kind === 'redis' ? [l2.redis] : [])];
  };
  const freshcacheNode = (node: NodeView) => ({ kind: 'freshcache' as const, ...node });

  app.get(
    '/api/nodes',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Every freshcache node (up, or down until removed) and every Redis server of the deployment',
        response: {
          200: { type: 'object', required: ['freshcache', 'redis'], properties: { freshcache: { type: 'array', items: freshcacheNodeSchema }, redis: { type: 'array', items: redisNodeSchema } } },
          503: errorSchema,
        },
      },
    },
    async () => {
      const [nodes, redis] = await Promise.all([registry.list(), describeRedisNodes(redisTargets())]);
      return { freshcache: nodes.map(freshcacheNode), redis };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/nodes/:id',
    {
      schema: {
        tags: ['fleet'],
        summary: 'One node: a freshcache node by its id, or a Redis server by its cluster id (host:port when standalone)',
        params: idParams,
        response: { 200: { oneOf: [freshcacheNodeSchema, redisNodeSchema] }, 404: errorSchema, 503: errorSchema },
      },
    },
    async (request) => {
      const { id } = request.params;
      const node = await registry.get(id);
      if (node) return freshcacheNode(node);
      const redis = (await describeRedisNodes(redisTargets())).find((r) => r.id === id);
      if (redis) return redis;
      throw new FreshcacheError('not_found', `no node "${id}"`);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/nodes/:id',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Drain a freshcache node: it stops taking work, finishes its group events, leaves its consumer groups and deregisters',
        description:
          'Answers 202 once the node has begun draining; it leaves the list when done. Sent to another process, the request is forwarded to the node\'s URL. A library instance answers 409 not_drainable.',
        params: idParams,
        response: {
          202: { type: 'object', required: ['id', 'state'], properties: { id: { type: 'string' }, state: { const: 'draining' } } },
          404: errorSchema,
          409: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (id === topology.config.nodeId) {
        topology.drain().catch((error: unknown) => topology.logger.error({ err: error }, 'draining this node failed'));
        return reply.status(202).send({ id, state: 'draining' });
      }
      const node = await registry.get(id);
      if (!node) throw new FreshcacheError('not_found', `no freshcache node "${id}"`);
      if (!node.drainable || node.url === null) throw new FreshcacheError('not_drainable', `node "${id}" is a library instance inside a service: its service stops it`);
      if (request.headers[FORWARDED] !== undefined) throw new FreshcacheError('node_unreachable', `node "${id}" is registered at ${node.url}, where another node answered`);
      let response: Response;
      try {
        const headers: Record<string, string> = { [FORWARDED]: '1' };
        if (request.headers.authorization) headers.authorization = request.headers.authorization;
        response = await fetch(`${node.url}/api/nodes/${encodeURIComponent(id)}`, { method: 'DELETE', headers, signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) });
      } catch (error) {
        throw new FreshcacheError('node_unreachable', `node "${id}" did not answer at ${node.url} (${(error as Error).message})`, { cause: error });
      }
      return reply.status(response.status).header('content-type', 'application/json').send(await response.text());
    },
  );
};
