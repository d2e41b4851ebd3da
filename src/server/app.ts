import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import type { Topology } from '../topology/topology.js';
import { registerErrorHandling, toErrorBody } from './error-handling.js';
import { validatorCompiler } from './validator-compiler.js';
import { cacheRoutes } from './routes/cache.js';
import { contentRoutes } from './routes/content.js';
import { edgeRoutes } from './routes/edge.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { invalidationRoutes } from './routes/invalidations.js';
import { metricsRoutes } from './routes/metrics.js';
import { regionRoutes } from './routes/regions.js';

/** Request ids unique across processes and cheap per request: a random prefix per process and a counter. */
function requestIds(): () => string {
  const prefix = randomUUID().slice(0, 8);
  let next = 0;
  return () => `${prefix}-${(next++).toString(36)}`;
}

export interface AppOptions {
  topology: Topology;
}

/** The HTTP face of a topology, without `listen()`: tests drive it with `inject()`. */
export async function buildApp({ topology }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps Fastify's generic logger type.
    loggerInstance: topology.logger as FastifyBaseLogger,
    bodyLimit: topology.config.limits.bodyLimitBytes,
    // Keys may be up to maxKeyBytes long, URL-encoded up to three times that.
    routerOptions: { maxParamLength: topology.config.limits.maxKeyBytes * 3 + 16 },
    requestIdHeader: 'x-request-id',
    genReqId: requestIds(),
    // Two log lines per request cost a sixth of an edge hit's time: the access log is for
    // debugging (FRESHCACHE_LOG_LEVEL=debug). Errors are always logged, with their request id.
    logController: new LogController({ disableRequestLogging: !topology.logger.isLevelEnabled('debug') }),
    // Errors the router raises before any route runs (a malformed URL, a key too long for a path).
    frameworkErrors: (error, _request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const body = toErrorBody(tooLong ? 'invalid_key' : 'bad_request', tooLong ? 'a path parameter (key) is too long' : error.message);
      void (reply as FastifyReply).status(400).send(body);
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  // A text/plain body is not JSON: answer 415 rather than trying to validate a string as an object.
  app.removeContentTypeParser('text/plain');
  // A callback hook, not an async one: it runs on every request, and a promise per hook shows.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });

  registerErrorHandling(app);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'freshcache',
        version: '0.1.0',
        description: 'A distributed cache that stays fresh. Errors are `{ "error": { "code", "message" } }`.',
      },
      tags: [
        { name: 'cache', description: 'Key-value cache of one region' },
        { name: 'invalidation', description: 'Purge by key, tag or prefix, and watch it propagate' },
        { name: 'content', description: 'Content at the origin' },
        { name: 'edge', description: 'Reads through a region' },
        { name: 'regions', description: 'Regions, their delays and strategies' },
        { name: 'ops', description: 'Health, metrics and events' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  for (const routes of [healthRoutes, metricsRoutes, cacheRoutes, invalidationRoutes, contentRoutes, edgeRoutes, regionRoutes, eventRoutes]) {
    await app.register(routes, { topology });
  }
  return app;
}
