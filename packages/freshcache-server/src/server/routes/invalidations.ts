import type { FastifyPluginAsync } from 'fastify';
import { FreshcacheError, type MatchResult } from 'freshcache';
import type { AppOptions } from '../app.js';
import { errorSchema } from '../error-handling.js';
import { checkKey, checkPrefix, checkTags } from '../validation.js';

interface InvalidateBody {
  keys?: string[];
  tags?: string[];
  prefixes?: string[];
  dryRun?: boolean;
}

/** The answer of `POST /api/invalidate` with `dryRun`. */
export interface DryRunAnswer {
  dryRun: true;
  keys: string[];
  tags: string[];
  prefixes: string[];
  /** Per region: up to 1000 matching keys (sorted), how many match, and whether that count is partial. */
  regions: Record<string, MatchResult>;
}

const list = (description: string) => ({ type: 'array', items: { type: 'string' }, maxItems: 1000, description }) as const;

export const invalidationRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
  const { maxKeyBytes } = topology.config.limits;
  const errors = { 400: errorSchema, 404: errorSchema };

  app.post<{ Body: InvalidateBody }>(
    '/api/invalidate',
    {
      schema: {
        tags: ['invalidation'],
        summary: 'Purge keys, tags and prefixes in every region (O(1) per tag or prefix)',
        description:
          'Publishes one invalidation event; each region applies it after its propagation delay. ' +
          'A prefix may end in `*` ("user:42:*"). With `dryRun`, nothing is purged and the matching keys of each region are listed; ' +
          'a region whose walk ran out of budget says `partial: true`, and its `total` is then a lower bound.',
        body: {
          type: 'object',
          properties: {
            keys: list('Exact keys.'),
            tags: list('Every entry with one of these tags.'),
            prefixes: list('Every key starting with one of these.'),
            dryRun: { type: 'boolean', default: false },
          },
          additionalProperties: false,
        },
        response: errors,
      },
    },
    async (request, reply) => {
      const keys = [...new Set((request.body.keys ?? []).map((k) => checkKey(k, maxKeyBytes)))];
      const tags = checkTags(request.body.tags ?? []);
      const prefixes = [...new Set((request.body.prefixes ?? []).map((p) => checkPrefix(p, maxKeyBytes)))];
      if (keys.length + tags.length + prefixes.length === 0) {
        throw new FreshcacheError('empty_invalidation', 'name at least one key, tag or prefix to invalidate');
      }
      if (request.body.dryRun) {
        const answer: DryRunAnswer = { dryRun: true, keys, tags, prefixes, regions: await topology.dryRun({ keys, tags, prefixes }) };
        return answer;
      }
      const status = await topology.purge({ keys, tags, prefixes });
      return reply.status(202).header('location', `/api/invalidations/${status.id}`).send(status);
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/invalidations/:id',
    {
      schema: {
        tags: ['invalidation'],
        summary: 'Propagation of one invalidation: when each region, and each node of it, applied it',
        params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] },
        response: errors,
      },
    },
    async (request) => {
      const status = await topology.fleetStatus(request.params.id);
      if (!status) throw new FreshcacheError('not_found', `no invalidation ${request.params.id} (only the latest 1000 are kept)`);
      return status;
    },
  );

  app.get<{ Querystring: { limit?: number } }>(
    '/api/invalidations',
    {
      schema: {
        tags: ['invalidation'],
        summary: 'Recent invalidations, newest first',
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } },
          additionalProperties: false,
        },
        response: errors,
      },
    },
    async (request) => ({ items: await topology.fleetStatuses(request.query.limit ?? 50) }),
  );
};
