import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ERROR_CATALOGUE, FreshcacheError } from 'freshcache';
import type { Lookup, TieredCache } from 'freshcache';

export interface AppOptions {
  cache: TieredCache;
  /** Whether the cache follows the invalidation log yet (GET /health says 503 until it does). */
  following: () => boolean;
}

/** A positive int4 id in the path: anything else is a 400, never a query. */
const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } },
} as const;

/** The routes; `listen` is the caller's (main.ts). */
export function buildApp({ cache, following }: AppOptions): FastifyInstance {
  const app = Fastify();

  app.get('/health', async (_request, reply) => {
    if (!following()) return reply.code(503).send({ status: 'starting', reason: 'not following the invalidation log yet' });
    return { status: 'ok' };
  });

  // The cache loads a key through the template it matches (cache.ts): no loader at the call site.
  app.get<{ Params: { id: number } }>('/users/:id', { schema: { params: idParams } }, async (request, reply) =>
    send(reply, await cache.lookupOrLoad(`user:${request.params.id}`)),
  );

  app.get<{ Params: { id: number } }>('/orgs/:id/users', { schema: { params: idParams } }, async (request, reply) =>
    send(reply, await cache.lookupOrLoad(`org:${request.params.id}:users`)),
  );

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } });
  });

  // Errors as { error: { code, message } }: bad parameters 400, a loader's not_found 404.
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof FreshcacheError) {
      return reply.code(ERROR_CATALOGUE[error.code].status).send({ error: { code: error.code, message: error.message } });
    }
    if ((error as { validation?: unknown }).validation) {
      return reply.code(400).send({ error: { code: 'bad_request', message: (error as Error).message } });
    }
    reply.log.error(error);
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error' } });
  });

  return app;
}

/** The value, with where it came from (X-Cache HIT, MISS or STALE; X-Cache-Tier l1, l2 or origin) and, when known, its row's version. */
function send(reply: FastifyReply, found: Lookup) {
  if (found.version !== undefined) reply.header('x-cache-version', String(found.version));
  return reply.header('x-cache', found.state).header('x-cache-tier', found.tier).send(found.value);
}
