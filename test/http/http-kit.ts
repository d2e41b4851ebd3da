import { once } from 'node:events';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../packages/freshcache-server/src/config.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import type { Clock } from '../../packages/freshcache/src/engine/clock.js';
import { ERROR_CATALOGUE } from '../../packages/freshcache/src/engine/errors.js';
import type { ErrorCode } from '../../packages/freshcache/src/engine/errors.js';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import type { ContentRecord } from '../../packages/freshcache-server/src/demo/content-store.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { openTopology, serverAppsOf } from '../testkit/test-topology.js';

export const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/**
 * Asserts the one error shape of the API: exactly `{ error: { code, message } }`, the code from the
 * catalogue, and the HTTP status the catalogue gives that code.
 */
export function expectError(res: LightMyRequestResponse, status: number, code?: ErrorCode): void {
  expect(res.statusCode, `got ${res.statusCode} ${res.body.slice(0, 300)}`).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { error: { code: ErrorCode; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(Object.keys(ERROR_CATALOGUE)).toContain(body.error.code);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(ERROR_CATALOGUE[body.error.code].status, `status of code ${body.error.code}`).toBe(res.statusCode);
  if (code !== undefined) expect(body.error.code).toBe(code);
}

/** One bad request and the error it must get. */
export interface BadRequestCase {
  name: string;
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  /** A string is sent as is (with the given content type), an object as JSON. */
  payload?: string | object;
  headers?: Record<string, string>;
  status: number;
  code?: ErrorCode;
}

/**
 * A topology and its app outside a single test (for `beforeAll`), so a table of bad requests can
 * run against one server and check that nothing they did leaked into the state. Mirrors testApp().
 */
export async function sharedApp(options: { config?: ConfigInput; clock?: Clock } = {}) {
  const topology = await openTopology(options);
  const app = await buildApp({ topology, apps: serverAppsOf(topology) });
  return {
    app,
    topology,
    async close() {
      await app.close();
      await topology.close();
    },
  };
}

/** Creates content through the API and waits until the relay has published the insert's invalidation. */
export async function createContent(
  app: FastifyInstance,
  topology: Topology,
  input: { slug: string; title: string; body?: string; tags?: string[] },
): Promise<ContentRecord> {
  const published = once(topology.events, 'invalidation.published');
  const res = await app.inject({ method: 'POST', url: '/api/content', payload: input });
  expect(res.statusCode, res.body).toBe(201);
  await published;
  return res.json<ContentRecord>();
}

/**
 * Everything a client can observe of the state: every region's cached entries, the content at
 * the origin, the regions' settings and the invalidations published. A bad request must leave it
 * exactly as it was.
 */
export async function observableState(app: FastifyInstance, topology: Topology) {
  const cache: Record<string, unknown> = {};
  for (const name of topology.regions.keys()) {
    const res = await app.inject(`/api/cache?region=${name}&limit=1000`);
    expect(res.statusCode, res.body).toBe(200);
    cache[name] = res.json<{ items: { key: string; value: unknown; tags: string[]; version: number | null }[] }>().items.map(
      ({ key, value, tags, version }) => ({ key, value, tags, version }),
    );
  }
  const content = await app.inject('/api/content?limit=500');
  const regions = await app.inject('/api/regions');
  const invalidations = await app.inject('/api/invalidations?limit=1000');
  const health = await app.inject('/health');
  for (const res of [content, regions, invalidations, health]) expect(res.statusCode, res.body).toBe(200);
  return {
    cache,
    content: content.json(),
    regions: regions.json(),
    invalidations: invalidations.json<{ items: { id: number }[] }>().items.map((i) => i.id),
    health: health.json(),
  };
}

/**
 * Runs each bad request against one server (a fake clock, so nothing expires or propagates
 * meanwhile) and checks the error shape, that the server still answers, and that the state a
 * client can observe is exactly what it was before.
 */
export function describeBadRequests(
  title: string,
  cases: readonly BadRequestCase[],
  seed: (app: FastifyInstance, topology: Topology) => Promise<void>,
): void {
  describe(title, () => {
    let shared: Awaited<ReturnType<typeof sharedApp>>;
    beforeAll(async () => {
      shared = await sharedApp({ clock: new ManualClock() });
      await seed(shared.app, shared.topology);
    });
    afterAll(() => shared?.close());

    it.each(cases)('$name', async ({ method, url, payload, headers, status, code }) => {
      const { app, topology } = shared;
      const before = await observableState(app, topology);
      const res = await app.inject({ method, url, payload, headers });
      expectError(res, status, code);
      expect(await observableState(app, topology)).toEqual(before);
    });
  });
}
