import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Topology } from '../topology/topology.js';
import { VERSION } from 'freshcache';
import { registerErrorHandling, toErrorBody } from './error-handling.js';
import { DEFAULT_DASHBOARD_DIR, serveDashboard } from './dashboard.js';
import { edgeHitPath } from './edge-hit-path.js';
import { jsonBody } from './json-body.js';
import type { EdgeRoute } from './edge-route.js';
import { validatorCompiler } from './validator-compiler.js';
import { cacheRoutes } from './routes/cache.js';
import { edgeRoutes } from './routes/edge.js';
import { eventRoutes } from './routes/events.js';
import { failoverRoutes, failoverWatch } from './routes/failovers.js';
import { healthRoutes } from './routes/health.js';
import { infoRoutes } from './routes/info.js';
import { invalidationRoutes } from './routes/invalidations.js';
import { metricsRoutes } from './routes/metrics.js';
import { nodeRoutes } from './routes/nodes.js';
import { chaosRoutes } from './routes/chaos.js';
import { rebalanceRoutes } from './routes/rebalance.js';
import { regionRoutes } from './routes/regions.js';

/** Request ids unique across processes and cheap per request: a random prefix per process and a counter. */
function requestIds(): () => string {
  const prefix = randomUUID().slice(0, 8);
  let next = 0;
  return () => `${prefix}-${(next++).toString(36)}`;
}

// Apps declare their edge routes with these (they reach users as `freshcache-server/server`).
export { edgeRoute } from './edge-route.js';
export type { EdgeRoute, EdgeRouteOptions, EdgeParam, EdgeParams } from './edge-route.js';
// And check their input as the built-in routes do.
export { errorSchema } from './error-handling.js';
export { TAG_PATTERN, checkTags } from './validation.js';
// And answer a read of their own with the edge's cache headers (X-Cache, Age, …).
export { setCacheHeaders } from './cache-headers.js';
export { jsonBody } from './json-body.js';

/** The HTTP half of an app on top of freshcache: its routes, its edge reads and their OpenAPI tags. */
export interface ServerApp {
  /** Registered with the topology, like the built-in routes. */
  readonly routes?: FastifyPluginAsync<{ topology: Topology }>;
  /** Edge reads, answered from a region's L1 before Fastify when fresh (see edgeRoute). */
  readonly edgeRoutes?: readonly EdgeRoute[];
  /** OpenAPI tags the app's routes use. */
  readonly tags?: readonly { name: string; description: string }[];
}

export interface AppOptions {
  topology: Topology;
  /** The built dashboard to serve at `/` (default dist/dashboard of the package). */
  dashboardDir?: string;
  /** Apps whose routes to serve besides the built-in ones (none by default). */
  apps?: readonly ServerApp[];
  /** Edge reads declared with edgeRoute, besides the apps' (none by default). */
  edgeRoutes?: readonly EdgeRoute[];
}

/** The HTTP face of a topology, without `listen()`: tests drive it with `inject()`. */
export async function buildApp({ topology, dashboardDir = DEFAULT_DASHBOARD_DIR, apps = [], edgeRoutes: own = [] }: AppOptions): Promise<FastifyInstance> {
  const declared = [...own, ...apps.flatMap((app) => app.edgeRoutes ?? [])];
  // The access log (two lines and a child logger per request) costs a quarter of an edge hit's
  // CPU time, so it is for debugging (FRESHCACHE_LOG_LEVEL=debug).
  const accessLog = topology.logger.isLevelEnabled('debug');
  // At debug level every request goes through Fastify, so the access log sees them all. While
  // closing, too: Fastify then answers 503 with Connection: close, so keep-alive clients let go.
  const hitPath = accessLog ? undefined : edgeHitPath(topology, declared);
  let closing = false;
  const app = Fastify({
    serverFactory: (handler) =>
      createServer((request, response) => {
        if (closing || !hitPath?.(request, response)) handler(request, response);
      }),
    // Fastify gets the logger only for the debug access log: even a silent logger handed to
    // Fastify measured 2 µs of CPU per request (a tenth of a hit). Without it, errors are logged
    // by the error handler with their request id. The cast: pino's Logger is a FastifyBaseLogger.
    ...(accessLog ? { loggerInstance: topology.logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: topology.config.limits.bodyLimitBytes,
    // X-Forwarded-For counts only from the configured proxies (nginx in front of `up`'s regions).
    ...(topology.config.trustProxy.length > 0 ? { trustProxy: [...topology.config.trustProxy] } : {}),
    // Keys may be up to maxKeyBytes long, URL-encoded up to three times that.
    routerOptions: { maxParamLength: topology.config.limits.maxKeyBytes * 3 + 16 },
    requestIdHeader: 'x-request-id',
    genReqId: requestIds(),
    // Errors the router raises before any route runs (a malformed URL, a key too long for a path).
    frameworkErrors: (error, _request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const body = toErrorBody(tooLong ? 'invalid_key' : 'bad_request', tooLong ? 'a path parameter (key) is too long' : error.message);
      void (reply as FastifyReply).status(400).send(body);
    },
  });
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.setValidatorCompiler(validatorCompiler);
  // Bodies without a response schema (cached values among them) may hold a BigInt.
  app.setReplySerializer((payload) => jsonBody(payload));
  // A text/plain body is not JSON: answer 415 rather than trying to validate a string as an object.
  app.removeContentTypeParser('text/plain');
  registerErrorHandling(app, topology.logger);

  await app.register(swagger, {
    openapi: {
      // 3.1: its schemas are JSON Schema 2020-12, as the route schemas are written (a numeric
      // exclusiveMinimum, for one, is invalid in 3.0).
      openapi: '3.1.0',
      info: {
        title: 'freshcache',
        version: VERSION,
        description: 'A distributed cache that stays fresh. Errors are `{ "error": { "code", "message" } }`.',
      },
      tags: [
        { name: 'cache', description: 'Key-value cache of one region' },
        { name: 'invalidation', description: 'Purge by key, tag or prefix, and watch it propagate' },
        { name: 'edge', description: 'Reads through a region' },
        { name: 'regions', description: 'Regions, their delays and strategies' },
        { name: 'fleet', description: 'The nodes of the deployment: freshcache processes and library instances, and Redis servers' },
        { name: 'ops', description: 'Health, metrics and events' },
        ...apps.flatMap((app) => app.tags ?? []),
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // X-Request-Id goes on every error, and on a success when it can be matched with something: the
  // caller sent it (propagation), or the access log is on. At info level a success leaves no log
  // line, so an id on it would be bytes on every hit that point nowhere. The edge read (the hot
  // path) sets it with its cache headers: a hook on every route measured 2.5 µs of CPU per request.
  await app.register(edgeRoutes, { topology, routes: declared });
  await app.register(async (scope) => {
    scope.addHook('onRequest', (request, reply, done) => {
      if (accessLog || request.headers['x-request-id'] !== undefined) reply.header('x-request-id', request.id);
      done();
    });
    for (const routes of [healthRoutes, infoRoutes, metricsRoutes, cacheRoutes, invalidationRoutes, regionRoutes, nodeRoutes]) {
      await scope.register(routes, { topology });
    }
    // The failover watch looks at the Redis Cluster while someone listens to the event stream.
    const watch = failoverWatch(topology);
    await scope.register(eventRoutes, { topology, whileListened: watch ? [() => watch.listen()] : [] });
    await scope.register(failoverRoutes, { topology, watch });
    await scope.register(chaosRoutes, { topology });
    await scope.register(rebalanceRoutes, { topology });
    for (const app of apps) if (app.routes) await scope.register(app.routes, { topology });
  });
  await serveDashboard(app, dashboardDir);
  return app;
}
