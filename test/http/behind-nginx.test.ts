import type { EventEmitter } from 'node:events';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../packages/freshcache-server/src/config.js';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import { freePort } from '../../packages/freshcache-server/src/tools/free-port.js';
import { findNginx, NGINX_INSTALL_HINT, startNginx } from '../../packages/freshcache-server/src/tools/local-nginx.js';
import { nginxConfig } from '../../packages/freshcache-server/src/tools/nginx-config.js';
import { serverSentEvents } from '../../packages/freshcache-server/src/tools/server-sent-events.js';
import type { Running } from '../../packages/freshcache-server/src/tools/supervisor.js';
import type { InvalidationStatus } from '../../packages/freshcache-server/src/topology/invalidation-tracker.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { openTopology, serverAppsOf } from '../testkit/test-topology.js';

/**
 * freshcache behind nginx as `freshcache up` runs it: nginx started with the config that
 * nginxConfig() writes, in front of servers listening on real sockets. Each server is a "region"
 * of that config, so that one nginx fronts a server per trustProxy setting; one more server block,
 * written as a user may write it, proxies with nginx's defaults.
 */
const SERVERS: { name: string; config: ConfigInput }[] = [
  // As up configures its nodes: nginx (127.0.0.1) is the one proxy.
  { name: 'trusted', config: { trustProxy: ['127.0.0.1'] } },
  // The client (127.0.0.2) is a proxy itself, one hop further out.
  { name: 'chain', config: { trustProxy: ['127.0.0.1', '127.0.0.2'] } },
  { name: 'untrusted', config: {} },
];
/** A loopback address other than nginx's, for the client: Linux routes all of 127.0.0.0/8 to lo. */
const CLIENT_ADDRESS = '127.0.0.2';

interface LogLine {
  msg: string;
  reqId?: string;
  req?: { remoteAddress?: string };
}

const front = new Map<string, string>();
const topologies = new Map<string, Topology>();
const logs = new Map<string, LogLine[]>();
const closers: (() => Promise<unknown>)[] = [];
let nginx: Running | undefined;

beforeAll(async () => {
  const bin = findNginx();
  if (!bin) throw new Error(NGINX_INSTALL_HINT); // scripts/ensure-test-deps.sh installs it before npm test
  const regions = [];
  for (const { name, config } of SERVERS) {
    // Debug level turns on the access log, whose "incoming request" line has the client's address (request.ip).
    const lines: LogLine[] = [];
    logs.set(name, lines);
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
    const topology = await openTopology({ config, logger });
    topologies.set(name, topology);
    const app = await buildApp({ topology, apps: serverAppsOf(topology) });
    closers.push(() => topology.close(), () => app.close());
    await app.listen({ port: 0, host: '127.0.0.1' });
    regions.push({ name, port: await freePort(), nodePorts: [(app.server.address() as AddressInfo).port] });
  }
  const dir = await mkdtemp(join(tmpdir(), 'freshcache-nginx-'));
  closers.push(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'nginx.conf');
  // And a server block as a user may write it, nginx's defaults: HTTP/1.0 to the server, buffered.
  const plain = { name: 'plain', port: await freePort() };
  const plainBlock = `  server {\n    listen 127.0.0.1:${plain.port};\n    location / {\n      proxy_pass http://127.0.0.1:${regions[0]!.nodePorts[0]};\n    }\n  }\n}\n`;
  await writeFile(config, nginxConfig({ dir, regions, asRoot: process.getuid?.() === 0 }).replace(/}\n$/, plainBlock));
  nginx = await startNginx(bin, dir, config, regions[0]!.port);
  for (const region of [...regions, plain]) front.set(region.name, `http://127.0.0.1:${region.port}`);
});

afterAll(async () => {
  if (nginx) {
    process.kill(-nginx.pid, 'SIGTERM'); // its own process group: the master and its worker
    await nginx.exited;
  }
  for (const close of closers.reverse()) await close();
});

/** A GET through nginx from CLIENT_ADDRESS, naming its request id, with the X-Forwarded-For a client (or a proxy before it) may send. */
function getFromClient(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress: CLIENT_ADDRESS, headers }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode!));
    });
    req.once('error', reject);
    req.end();
  });
}

/** The client address a server logged for the request with this id (its access log's `remoteAddress`). */
async function loggedClient(server: string): Promise<string | undefined> {
  const id = `behind-nginx-${server}-${Math.random().toString(36).slice(2)}`;
  expect(await getFromClient(`${front.get(server)}/health`, { 'x-request-id': id, 'x-forwarded-for': '203.0.113.7' })).toBe(200);
  return logs.get(server)!.find((line) => line.reqId === id && line.msg === 'incoming request')?.req?.remoteAddress;
}

describe('behind nginx (the config freshcache up writes)', () => {
  it('sees the client address nginx appended to X-Forwarded-For when nginx is a trusted proxy', async () => {
    // nginx sends "203.0.113.7, 127.0.0.2": the first hop is what the client claimed, the last what nginx saw.
    expect(await loggedClient('trusted')).toBe(CLIENT_ADDRESS);
    // When the client is a trusted proxy too, the hop before it counts: nginx kept the header and appended to it.
    expect(await loggedClient('chain')).toBe('203.0.113.7');
  });

  it('ignores X-Forwarded-For without trustProxy: the client is nginx', async () => {
    expect(await loggedClient('untrusted')).toBe('127.0.0.1');
  });

  it('passes the event stream through unbuffered: an event reaches the client while the stream is open', async () => {
    await expectEventThrough(front.get('trusted')!);
  });

  it("passes the event stream through an nginx with the defaults (HTTP/1.0, buffered): the stream's X-Accel-Buffering: no turns buffering off", async () => {
    await expectEventThrough(front.get('plain')!);
  });
});

/**
 * Opens /api/events through nginx at `url` (in front of the 'trusted' server), purges a key once
 * the server has opened the stream, and waits for the purge's event on the open stream.
 */
async function expectEventThrough(url: string): Promise<void> {
  const topology = topologies.get('trusted')!;
  // The server has opened the stream once it listens for the topology's events ('newListener'
  // is every EventEmitter's, outside the typed map).
  const emitter = topology.events as unknown as EventEmitter;
  const listening = new Promise<void>((resolve) => {
    const onListener = (name: string | symbol) => {
      if (name !== 'invalidation.published') return;
      emitter.off('newListener', onListener);
      resolve();
    };
    emitter.on('newListener', onListener);
  });
  const stream = new AbortController();
  const received = (async () => {
    const res = await fetch(`${url}/api/events`, { signal: stream.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    return serverSentEvents(res.body!);
  })();
  try {
    await within(10_000, listening, 'GET /api/events did not reach the server through nginx within 10 s');
    const { id } = await topology.purge({ keys: ['behind-nginx-probe'], tags: [], prefixes: [] });
    // Buffered, nginx holds a few hundred bytes (over HTTP/1.0 even the headers) until kilobytes
    // pile up or the stream ends, which it does not: a bound on the wait turns that hang into a failure.
    const published = (async () => {
      for await (const event of await received) {
        if (event.name === 'invalidation.published' && (JSON.parse(event.data) as InvalidationStatus).id === id) return event.name;
      }
      throw new Error('the event stream ended before the event came');
    })();
    const message = `invalidation ${id} was published, but its event did not come through nginx within 10 s while the stream was open: is /api/events buffered?`;
    expect(await within(10_000, published, message)).toBe('invalidation.published');
  } finally {
    stream.abort();
    await received.catch(() => {});
  }
}

/** `promise`, or a failure with `message` if it has not settled within `ms`. */
async function within<T>(ms: number, promise: Promise<T>, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}
