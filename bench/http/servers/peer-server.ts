/**
 * A peer of the edge for the HTTP benchmark, in a process of its own, answering the edge's route
 * with the edge's body: `fastify` (a bare Fastify 5: no logger, no hooks, no schema; the route
 * returns the parsed object, which Fastify serialises per request as it would any handler's) or
 * `node-http` (node:http alone, the body string written with its length: the floor for a Node server).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { answerParent, send } from './bench-child.js';

const [, , kind, body] = process.argv;
if ((kind !== 'fastify' && kind !== 'node-http') || body === undefined) throw new Error('usage: peer-server.ts fastify|node-http <body>');

if (kind === 'fastify') {
  const value = JSON.parse(body) as object;
  const app = Fastify({ logger: false });
  app.get('/edge/:region/content/:id', async () => value);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  answerParent({ close: () => app.close() });
  send({ type: 'listening', port: Number(new URL(base).port), body });
} else {
  const length = Buffer.byteLength(body);
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': length });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  answerParent({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  send({ type: 'listening', port: (server.address() as AddressInfo).port, body });
}
