import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CHAOS_ACTIONS, UnknownServiceError } from './supervisor.js';
import type { ChaosAction, Supervisor } from './supervisor.js';

export interface UpControl {
  /** http://127.0.0.1:port, for `freshcache chaos` and the control process. */
  url: string;
  /** Bearer token every request must carry: no web page (nor other local user without the state file) can kill processes. */
  token: string;
  close(): Promise<void>;
}

/**
 * `up`'s own small HTTP endpoint, on loopback: `GET /services` lists its children and
 * `POST /chaos {action, target}` kills, restarts, pauses or resumes one of them.
 */
export async function startUpControl(supervisor: Supervisor): Promise<UpControl> {
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
