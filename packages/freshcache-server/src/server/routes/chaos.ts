import type { FastifyPluginAsync } from 'fastify';
import { FreshcacheError } from 'freshcache';
import type { AppOptions } from '../app.js';
import { errorSchema } from '../error-handling.js';

const serviceSchema = {
  type: 'object',
  required: ['name', 'pid', 'state', 'restarts'],
  properties: {
    name: { type: 'string' },
    pid: { type: ['integer', 'null'] },
    state: { type: 'string', enum: ['running', 'paused', 'restarting', 'stopped'] },
    restarts: { type: 'integer' },
  },
} as const;

/**
 * The chaos actions of `freshcache up` over the control process's API, for the dashboard's
 * Cluster page: `up` hands its control process the address and token of its own endpoint
 * (FRESHCACHE_UP_CONTROL, FRESHCACHE_UP_TOKEN), and these routes pass requests on to it. On any
 * other deployment they answer 404 not_found.
 */
export const chaosRoutes: FastifyPluginAsync<AppOptions> = async (app) => {
  const upControl = process.env.FRESHCACHE_UP_CONTROL;
  const token = process.env.FRESHCACHE_UP_TOKEN ?? '';
  const forward = async (path: string, init: RequestInit = {}): Promise<unknown> => {
    if (!upControl) throw new FreshcacheError('not_found', 'chaos actions exist only on a freshcache up deployment, from its control process');
    const response = await fetch(`${upControl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }).catch(() => {
      throw new FreshcacheError('node_unreachable', `freshcache up does not answer at ${upControl}`);
    });
    const body = (await response.json()) as { error?: { code: string; message: string } };
    if (response.status === 404 && body.error) throw new FreshcacheError('not_found', body.error.message);
    if (!response.ok) throw new FreshcacheError('bad_request', body.error?.message ?? `up answered ${response.status}`);
    return body;
  };

  app.get(
    '/api/chaos',
    {
      schema: {
        tags: ['fleet'],
        summary: "The processes of this freshcache up deployment that chaos actions can target (404 elsewhere)",
        response: { 200: { type: 'object', required: ['services'], properties: { services: { type: 'array', items: serviceSchema } } }, 404: errorSchema, 503: errorSchema },
      },
    },
    async () => forward('/services'),
  );

  app.post<{ Body: { action: 'kill' | 'restart' | 'pause' | 'resume'; target: string } }>(
    '/api/chaos',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Kill (SIGKILL), restart, pause (SIGSTOP) or resume (SIGCONT) a process of this freshcache up deployment',
        body: {
          type: 'object',
          required: ['action', 'target'],
          additionalProperties: false,
          properties: {
            action: { type: 'string', enum: ['kill', 'restart', 'pause', 'resume'] },
            target: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,63}$' },
          },
        },
        response: { 200: serviceSchema, 400: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    async (request) => forward('/chaos', { method: 'POST', body: JSON.stringify(request.body) }),
  );
};
