import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import type { TopologyEventMap } from '../../topology/topology.js';
import type { AppOptions } from '../app.js';

const MAX_BUFFERED_BYTES = 1024 * 1024;

const EVENT_NAMES: Exclude<keyof TopologyEventMap, 'app.event'>[] = ['invalidation.published', 'invalidation.applied', 'region.updated', 'region.flushed'];

/**
 * Server-sent events: the dashboard's live feed, the topology's events and the apps' (an
 * `app.event` goes out as an event of its own name). A comment line every 15 s keeps proxies from
 * closing it. A client that stops reading is dropped rather than buffered for without bound
 * (it reconnects and reloads what it shows); every stream ends when the server closes.
 * `whileListened` run while at least one stream is open (each returns its stop): the failover
 * watch looks at the Redis Cluster only then.
 */
export const eventRoutes: FastifyPluginAsync<AppOptions & { whileListened?: readonly (() => () => void)[] }> = async (app, { topology, whileListened = [] }) => {
  const streams = new Map<ServerResponse, () => void>();
  app.addHook('preClose', async () => {
    for (const [out, detach] of streams) {
      detach();
      out.end();
    }
  });

  app.get('/api/events', { schema: { tags: ['ops'], summary: 'Live events (text/event-stream)' } }, (request, reply) => {
    // X-Accel-Buffering: an nginx in front passes each event on as it is sent, whatever its own
    // buffering settings (its defaults would hold the stream, headers included, until kilobytes pile up).
    const headers = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', 'x-request-id': request.id };
    // HEAD (Fastify answers it with this handler) gets the stream's headers and no stream: a
    // stream it cannot read would hold the client and the server until one of them gives up.
    if (request.method === 'HEAD') return reply.headers(headers).send();
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, { ...headers, connection: 'keep-alive' });
    const send = (chunk: string) => {
      if (out.writableEnded || out.destroyed) return;
      // A burst (a relay catching up) may fill the socket's buffer for a moment; a client that
      // lets a whole megabyte pile up has stopped reading.
      if (out.writableLength > MAX_BUFFERED_BYTES) {
        detach();
        out.destroy();
        return;
      }
      out.write(chunk);
    };
    const listeners = EVENT_NAMES.map((name) => {
      const listener = (payload: unknown) => send(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
      topology.events.on(name, listener);
      return [name, listener] as const;
    });
    const forward = ({ name, data }: { name: string; data: unknown }) => send(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    topology.events.on('app.event', forward);
    const releases = whileListened.map((listen) => listen());
    const heartbeat = setInterval(() => send(': keep-alive\n\n'), 15_000);
    heartbeat.unref();
    let detached = false;
    function detach() {
      if (detached) return;
      detached = true;
      clearInterval(heartbeat);
      for (const [name, listener] of listeners) topology.events.off(name, listener);
      topology.events.off('app.event', forward);
      for (const release of releases) release();
      streams.delete(out);
    }
    streams.set(out, detach);
    out.on('close', detach);
    out.on('error', detach);
    send(`retry: 2000\n\n`);
  });
};
