import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { lingerBeforeClose } from '../../packages/freshcache-server/src/server/lingering-close.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { sharedApp } from './http-kit.js';

/**
 * A body over the limit is refused with 413 before it is read. The client is still sending it, so
 * the server must read and discard the rest before closing (lingering close): otherwise the client's
 * next writes meet a closed socket, and the reset destroys the answer it has not read yet.
 */
const BODY_LIMIT = 1024 * 1024;
let app: FastifyInstance;
let topology: Topology;
let port: number;

beforeAll(async () => {
  ({ app, topology } = await sharedApp({ config: { limits: { maxValueBytes: BODY_LIMIT - 64 * 1024, bodyLimitBytes: BODY_LIMIT } } }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await app?.close();
  await topology?.close();
});

/** Settles when the socket can take more, or is gone. */
function writable(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done).off('close', done).off('error', done);
      resolve();
    };
    socket.on('drain', done).on('close', done).on('error', done);
  });
}

/**
 * Sends a PUT with a body of `size` bytes over a raw socket without reading anything until it has
 * sent it all (or the server cut it off), then reads the answer. This is the worst case of a
 * client that reads its answer only once its request is out, as most clients do.
 */
async function putWithoutReading(size: number, to = port): Promise<{ sent: number; writeError?: string; answer: string }> {
  const socket = connect(to, '127.0.0.1');
  onTestFinished(() => void socket.destroy());
  await once(socket, 'connect');
  socket.pause();
  let writeError: string | undefined;
  socket.on('error', (error: NodeJS.ErrnoException) => (writeError ??= error.code ?? error.message));
  socket.write(`PUT /api/cache/k HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${size}\r\n\r\n`);
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  while (sent < size && writeError === undefined && !socket.destroyed) {
    const part = chunk.subarray(0, Math.min(chunk.length, size - sent));
    sent += part.length;
    if (!socket.write(part)) await writable(socket);
  }
  const received: Buffer[] = [];
  socket.on('data', (data: Buffer) => received.push(data));
  const closed = once(socket, 'close');
  socket.resume();
  await closed;
  return { sent, writeError, answer: Buffer.concat(received).toString('latin1') };
}

function expect413(answer: string): void {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  expect(head.split('\r\n')[0]).toBe('HTTP/1.1 413 Payload Too Large');
  expect(head.toLowerCase()).toContain('connection: close');
  expect(JSON.parse(body)).toMatchObject({ error: { code: 'body_too_large' } });
}

describe('a body over the limit', () => {
  it.each([2_000_000, 60_000_000])('of %i bytes sent with fetch gets the 413 and its error body, every time', async (size) => {
    const body = JSON.stringify({ value: 'x'.repeat(size) });
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/api/cache/k`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: { code: 'body_too_large' } });
    }
  });

  it.each([2_000_000, 60_000_000])('of %i bytes from a client that reads only once it has sent it all gets the 413', async (size) => {
    const { sent, writeError, answer } = await putWithoutReading(size);
    expect(writeError).toBeUndefined();
    expect(sent).toBe(size);
    expect413(answer);
  });

  it('stored nothing, and the server still answers', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/cache/k' });
    expect(res.statusCode).toBe(404);
  });
});

describe('lingering close', () => {
  /** A bare node:http server that refuses every body at once, as Fastify does with one over the limit. */
  async function refusingServer(limits: { timeoutMs: number; maxBytes: number }): Promise<number> {
    const server = createServer((request, response) => {
      lingerBeforeClose(request, limits);
      response.writeHead(413, { connection: 'close', 'content-type': 'application/json' }).end('{"error":{"code":"body_too_large","message":"too large"}}');
    });
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  }

  it('stops reading after maxBytes: a longer body is cut off, with the answer already sent', async () => {
    const to = await refusingServer({ timeoutMs: 60_000, maxBytes: 4 * 1024 * 1024 });
    const { sent, writeError } = await putWithoutReading(200_000_000, to);
    expect(writeError).toBeDefined();
    expect(sent).toBeLessThan(200_000_000);
  });

  it('stops waiting after timeoutMs: a client that stalls mid-body is closed', async () => {
    const to = await refusingServer({ timeoutMs: 50, maxBytes: 128 * 1024 * 1024 });
    const socket = connect(to, '127.0.0.1');
    onTestFinished(() => void socket.destroy());
    const received: Buffer[] = [];
    socket.on('data', (data: Buffer) => received.push(data));
    socket.on('error', () => {});
    socket.write(`PUT / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 1000000\r\n\r\n${' '.repeat(1000)}`);
    await once(socket, 'close'); // the server closed it, though the body is not complete
    expect(Buffer.concat(received).toString('latin1')).toMatch(/^HTTP\/1\.1 413 /);
  });
});
