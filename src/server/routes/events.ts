import type { FastifyPluginAsync } from 'fastify';
import type { TopologyEventMap } from '../../topology/topology.js';
import type { AppOptions } from '../app.js';

const EVENT_NAMES: (keyof TopologyEventMap)[] = [
  'invalidation.published',
  'invalidation.applied',
  'content.changed',
  'region.updated',
  'region.flushed',
];

/** Server-sent events: the dashboard's live feed. A comment line every 15 s keeps proxies from closing it. */
export const eventRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
  app.get('/api/events', { schema: { tags: ['ops'], summary: 'Live events (text/event-stream)' } }, (request, reply) => {
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': request.id,
    });
    out.write(`retry: 2000\n\n`);
    const listeners = EVENT_NAMES.map((name) => {
      const listener = (payload: unknown) => out.write(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
      topology.events.on(name, listener);
      return [name, listener] as const;
    });
    const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), 15_000);
    heartbeat.unref();
    request.raw.on('close', () => {
      clearInterval(heartbeat);
      for (const [name, listener] of listeners) topology.events.off(name, listener);
    });
  });
};
