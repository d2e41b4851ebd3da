import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CHAOS_ACTIONS, UnknownServiceError } from './supervisor.js';
import type { ChaosAction, Supervisor } from './supervisor.js';

/** A Redis Cluster node that `up` started and supervises (as `name`, redis-PORT). */
export interface UpRedisNode {
  name: string;
  host: string;
  port: number;
}

/** What `up --redis cluster` lends its endpoint for `freshcache cluster add-node|remove-node` (see up.ts). */
export interface UpRedisNodes {
  /** Starts one more cluster node, empty and not yet a member, supervised like the others. */
  add(): Promise<UpRedisNode>;
  /** Stops a node for good and stops supervising it; refuses (RedisNodeInUseError) one that still belongs to the cluster. */
  remove(name: string): Promise<void>;
}

/** The node still belongs to the cluster (it knows other nodes): stopping it would take slots or a replica away. */
export class RedisNodeInUseError extends Error {}

export interface UpControl {
  /** http://127.0.0.1:port, for `freshcache chaos` and the control process. */
  url: string;
  /** Bearer token every request must carry: no web page (nor other local user without the state file) can kill processes. */
  token: string;
  close(): Promise<void>;
}

/**
 * `up`'s own small HTTP endpoint, on loopback: `GET /services` lists its children and
 * `POST /chaos {action, target}` kills, restarts, pauses or resumes one of them. Under
 * `--redis cluster`, `POST /redis-nodes` starts one more Redis node (answering its name and
 * address) and `DELETE /redis-nodes/NAME` stops one that left the cluster: the slots are moved
 * by whoever asked (`freshcache cluster`, `POST /api/rebalance`), through Redis, not by up.
 */
export async function startUpControl(supervisor: Supervisor, redisNodes?: UpRedisNodes): Promise<UpControl> {
  const token = randomBytes(24).toString('hex');
  const expected = Buffer.from(`Bearer ${token}`);
  const server = createServer((request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const fail = (status: number, code: string, message: string) => send(status, { error: { code, message } });
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return fail(401, 'unauthorized', 'the token of up.json is required');
    if (request.method === 'GET' && request.url === '/services') return send(200, { services: supervisor.status() });
    if (request.url === '/redis-nodes' || request.url?.startsWith('/redis-nodes/')) {
      request.resume();
      if (!redisNodes) return fail(404, 'not_found', 'this freshcache up runs no Redis Cluster (up --redis cluster): it starts no Redis node');
      const name = request.url.slice('/redis-nodes/'.length);
      if (request.method === 'POST' && request.url === '/redis-nodes') {
        return void redisNodes.add().then(
          (node) => send(201, node),
          (error: unknown) => fail(500, 'start_failed', (error as Error).message),
        );
      }
      if (request.method === 'DELETE' && /^redis-\d{1,5}$/.test(name)) {
        return void redisNodes.remove(name).then(
          () => send(200, { name }),
          (error: unknown) =>
            error instanceof UnknownServiceError
              ? fail(404, 'unknown_target', error.message)
              : error instanceof RedisNodeInUseError
                ? fail(409, 'conflict', error.message)
                : fail(500, 'stop_failed', (error as Error).message),
        );
      }
      return fail(404, 'not_found', `${request.method} ${request.url} is not a route`);
    }
    if (request.method !== 'POST' || request.url !== '/chaos') return fail(404, 'not_found', `${request.method} ${request.url} is not a route`);
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 4096) request.destroy();
    });
    request.on('end', () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return fail(400, 'bad_request', 'the body must be JSON: {"action", "target"}');
      }
      const { action, target } = (parsed ?? {}) as { action?: unknown; target?: unknown };
      if (typeof action !== 'string' || !CHAOS_ACTIONS.includes(action as ChaosAction)) {
        return fail(400, 'bad_request', `action must be one of ${CHAOS_ACTIONS.join(', ')}`);
      }
      if (typeof target !== 'string' || target.length === 0 || target.length > 64) return fail(400, 'bad_request', 'target must be a service name');
      supervisor.act(action as ChaosAction, target).then(
        (status) => send(200, status),
        (error: unknown) =>
          error instanceof UnknownServiceError ? fail(404, 'unknown_target', error.message) : fail(500, 'chaos_failed', (error as Error).message),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
