import type { FastifyPluginAsync } from 'fastify';
import type { AppOptions } from '../app.js';

export const healthRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
  app.get('/health', { schema: { tags: ['ops'], summary: 'Liveness: the process answers' } }, async () => ({ status: 'ok' }));

  app.get('/ready', { schema: { tags: ['ops'], summary: 'Readiness: origin reachable and, where this process relays, the relay running or standing by' } }, async (_request, reply) => {
    const checks: Record<string, 'ok' | string> = {};
    try {
      await topology.sql.query('SELECT 1');
      checks.origin = 'ok';
    } catch (error) {
      checks.origin = (error as Error).message;
    }
    // A standby relay is healthy: it takes over when the leader goes. A process without the role has no check.
    const relay = topology.relayState;
    if (relay !== undefined) checks.relay = relay === 'running' ? 'ok' : relay;
    // A draining node takes no more work: a balancer should send it none.
    if (topology.draining) checks.node = 'draining';
    const ready = Object.values(checks).every((c) => c === 'ok' || c === 'standby');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });
};
