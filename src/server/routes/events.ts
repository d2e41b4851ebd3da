import type { ServerResponse } from 'node:http';
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
  // Streams never end by themselves: close them when the server closes, or shutdown would wait
  // for every dashboard to disconnect.
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const out of streams) out.end();
  });
  app.get('/api/events', { schema: { tags: ['ops'], summary: 'Live events (text/event-stream)' } }, (request, reply) => {
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': request.id,
    });
    streams.add(out);
    out.write(`retry: 2000\n\n`);
    const listeners = EVENT_NAMES.map((name) => {
      const listener = (payload: unknown) => out.write(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
      topology.events.on(name, listener);
      return [name, listener] as const;
    });
    const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), 15_000);
    heartbeat.unref();
    request.raw.on('close', () => {
      streams.delete(out);
      clearInterval(heartbeat);
      for (const [name, listener] of listeners) topology.events.off(name, listener);
    });
  });
};
