import { request as httpRequest, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContentRecord } from '../../packages/freshcache-server/src/demo/content-store.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { createContent, sharedApp } from './http-kit.js';

/**
 * A few thousand random requests (methods, paths, queries, bodies, content types) over every
 * route, from a fixed seed (FUZZ_SEED to try another). No answer may be a 5xx, none may hang, and
 * afterwards every content record and cache entry that no successful mutation named reads back
 * unchanged, and /ready answers 200.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const REQUESTS = 3000;
/** Longest wait for one answer before it counts as a hang (the slowest route answers in milliseconds). */
const HANG_MS = 10_000;
const REGIONS = ['us-east', 'eu-west', 'ap-south'];
/** Only this region is ever a valid PATCH target: a settings change may flush a region, so the other two keep their entries to check. */
const PATCHABLE = 'ap-south';

interface Sent {
  method: string;
  path: string;
  query: string;
  body?: Buffer;
  contentType?: string;
}

const keyPool = fc.oneof(
  fc.constantFrom('keep:0', 'keep:1', 'keep:17', 'keep:', 'content:1', 'k', 'a/b', 'ü', '%', '%25', '..', ''),
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constant('x'.repeat(600)),
);
const prefixPool = fc.oneof(fc.constantFrom('keep:1*', 'keep:2', 'content:*', 'user:*', '*', 'a**', ''), fc.string({ maxLength: 8 }).map((p) => `${p}*`));
const tagPool = fc.oneof(fc.constantFrom('keep-3', 'news', 'tech', '', 'bad tag', 'a'.repeat(130)), fc.string({ maxLength: 12 }));
const regionPool = fc.constantFrom(...REGIONS, 'mars', '', 'US-EAST', 'a'.repeat(40));
const idPool = fc.oneof(fc.constantFrom('1', '2', '5', '0', '-1', '1.5', 'abc', '9007199254740993', '99999999999999999999'), fc.nat().map(String));
const encode = encodeURIComponent;

const jsonBodies = fc.oneof(
  fc.record({ value: fc.jsonValue({ maxDepth: 2 }), ttl: fc.option(fc.oneof(fc.integer(), fc.double()), { nil: undefined }), tags: fc.option(fc.array(tagPool, { maxLength: 3 }), { nil: undefined }) }, { requiredKeys: [] }),
  fc.record({ keys: fc.array(keyPool, { maxLength: 3 }), tags: fc.array(tagPool, { maxLength: 3 }), prefixes: fc.array(prefixPool, { maxLength: 2 }), dryRun: fc.boolean() }, { requiredKeys: [] }),
  fc.record({ slug: fc.oneof(fc.string({ maxLength: 12 }), fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/)), title: fc.string({ maxLength: 30 }), body: fc.string({ maxLength: 40 }), tags: fc.array(fc.constantFrom('news', 'tech', 'misc', 'x y'), { maxLength: 3 }) }, { requiredKeys: [] }),
  fc.record({ delayMs: fc.oneof(fc.integer({ min: -10, max: 1_000_000 }), fc.constant('5')), strategy: fc.constantFrom('eager', 'lazy', 'other'), mode: fc.constantFrom('cdc', 'ttl', 'x'), ttlMs: fc.oneof(fc.constant(0), fc.nat()), jitter: fc.double() }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 3 }),
);
const rawBodies = fc.oneof(
  jsonBodies.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.constantFrom('{', '{"value":', 'null', '[]', '""', 'not json', '\u0000', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}').map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.constant(Buffer.alloc(1_200_000, 0x20)), // over the body limit
);
const contentTypes = fc.constantFrom(undefined, 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/json; charset=latin1', '');

const paths = fc.oneof(
  { weight: 4, arbitrary: keyPool.map((k) => `/api/cache/${encode(k)}`) },
  { weight: 2, arbitrary: fc.constant('/api/cache') },
  { weight: 2, arbitrary: fc.tuple(regionPool, idPool).map(([r, id]) => `/edge/${encode(r)}/content/${id}`) },
  { weight: 2, arbitrary: fc.constantFrom('/api/invalidate', '/api/invalidations', '/api/content', '/api/regions') },
  { weight: 2, arbitrary: idPool.map((id) => `/api/invalidations/${id}`) },
  { weight: 2, arbitrary: idPool.map((id) => `/api/content/${id}`) },
  { weight: 2, arbitrary: fc.constantFrom(...REGIONS.filter((r) => r !== PATCHABLE).map((r) => `${r}-not-patchable`), PATCHABLE, 'mars', '', 'a'.repeat(40)).map((r) => `/api/regions/${encode(r)}`) },
  { weight: 2, arbitrary: fc.constantFrom('/health', '/ready', '/metrics', '/api/metrics', '/api/metrics/history', '/api/info', '/api/events', '/docs/json', '/', '/assets/x.js', '/docs') },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((s) => `/${encodeURI(s)}`) },
  { weight: 1, arbitrary: fc.constantFrom('/api/cache/%', '/api/cache/%zz', '//api//cache', '/api/content/1/2', '/edge/us-east/content/', '/../etc/passwd') },
);
const queries = fc.oneof(
  fc.constant(''),
  fc.array(fc.tuple(fc.constantFrom('region', 'prefix', 'tag', 'cursor', 'limit', 'window', 'x', ''), fc.oneof(regionPool, tagPool, fc.constantFrom('5', '-1', '1000000', '1m', '5m', '1h', 'abc')))).map(
    (pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`),
  ),
);
const json = (value: unknown) => ({ body: Buffer.from(JSON.stringify(value)), contentType: 'application/json' });
const ids = fc.constantFrom('1', '2', '3', '4', '5', '6', '7', '999');
/** Requests shaped for their route, so that many get through validation and change something. */
const wellFormed: fc.Arbitrary<Sent> = fc.oneof(
  fc.tuple(keyPool, regionPool, jsonBodies).map(([key, region, value]) => ({ method: 'PUT', path: `/api/cache/${encode(key)}`, query: `?region=${region}`, ...json({ value, tags: ['t1'] }) })),
  fc.tuple(keyPool, fc.constantFrom(...REGIONS)).map(([key, region]) => ({ method: 'DELETE', path: `/api/cache/${encode(key)}`, query: `?region=${region}` })),
  fc.record({ keys: fc.array(keyPool, { maxLength: 2 }), tags: fc.array(tagPool, { maxLength: 2 }), prefixes: fc.array(prefixPool, { maxLength: 1 }), dryRun: fc.boolean() }).map((body) => ({ method: 'POST', path: '/api/invalidate', query: '', ...json(body) })),
  fc.tuple(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/), fc.string({ minLength: 1, maxLength: 20 })).map(([slug, title]) => ({ method: 'POST', path: '/api/content', query: '', ...json({ slug, title, tags: ['tech'] }) })),
  fc.tuple(ids, fc.string({ minLength: 1, maxLength: 20 })).map(([id, title]) => ({ method: 'PUT', path: `/api/content/${id}`, query: '', ...json({ title }) })),
  ids.map((id) => ({ method: 'DELETE', path: `/api/content/${id}`, query: '' })),
  fc.constantFrom('eager', 'lazy').map((strategy) => ({ method: 'PATCH', path: `/api/regions/${PATCHABLE}`, query: '', ...json({ strategy }) })),
  fc.tuple(fc.constantFrom(...REGIONS), ids).map(([region, id]) => ({ method: 'GET', path: `/edge/${region}/content/${id}`, query: '' })),
);
const anyRequest: fc.Arbitrary<Sent> = fc.record({
  method: fc.constantFrom('GET', 'GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'),
  path: paths,
  query: queries,
  body: fc.option(rawBodies, { nil: undefined, freq: 2 }),
  contentType: contentTypes,
});
const requests = fc.oneof({ weight: 1, arbitrary: wellFormed }, { weight: 2, arbitrary: anyRequest });

let app: FastifyInstance;
let topology: Topology;
let port: number;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const records: ContentRecord[] = [];
const entries: { region: string; key: string; tags: string[]; value: unknown }[] = [];

beforeAll(async () => {
  ({ app, topology } = await sharedApp());
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
  for (let i = 0; i < 6; i++) records.push(await createContent(app, topology, { slug: `fuzz-${i}`, title: `Record ${i}`, tags: ['news'] }));
  for (const region of REGIONS) {
    for (let i = 0; i < 50; i++) {
      const entry = { region, key: `keep:${i}`, tags: [`keep-${i % 10}`], value: { n: i, region } };
      // Through the engine: a PUT would drop the key in the other regions.
      await topology.region(region).cache.set(entry.key, entry.value, { tags: entry.tags, ttlMs: 3_600_000 });
      entries.push(entry);
    }
  }
}, 60_000);

afterAll(async () => {
  agent.destroy();
  await app?.close();
  await topology?.close();
});

/** One request over a real socket; rejects if no answer comes within HANG_MS. */
function send({ method, path, query, body, contentType }: Sent): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (body !== undefined) headers['content-length'] = body.length;
    const req = httpRequest({ host: '127.0.0.1', port, method, path: path + query, headers, agent, timeout: HANG_MS }, (res) => {
      // A stream of events never ends: its answer is its status and headers.
      if (res.headers['content-type'] === 'text/event-stream') {
        req.destroy();
        return resolve({ status: res.statusCode ?? 0, text: 'an event stream' });
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${HANG_MS} ms (a hang)`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** What a successful mutation may have changed: keys (per region, or every region), tags, prefixes, records, regions. */
class Named {
  readonly keys = new Set<string>();
  readonly tags = new Set<string>();
  readonly prefixes = new Set<string>();
  readonly records = new Set<number>();
  readonly regions = new Set<string>();

  record(sent: Sent): void {
    const [, api, resource, param] = sent.path.split('/');
    const json = parse(sent.body);
    // A PUT or DELETE of a key reaches every region.
    if (api === 'api' && resource === 'cache' && param !== undefined) for (const r of REGIONS) this.keys.add(`${r}\u0000${decodeURIComponent(param)}`);
    if (api === 'api' && resource === 'invalidate' && json?.dryRun !== true) {
      for (const key of json?.keys ?? []) for (const r of REGIONS) this.keys.add(`${r}\u0000${key}`);
      for (const tag of json?.tags ?? []) this.tags.add(tag);
      for (const prefix of json?.prefixes ?? []) this.prefixes.add(prefix.replace(/\*$/, ''));
    }
    if (api === 'api' && resource === 'content') {
      if (param !== undefined) this.records.add(Number(param));
      for (const tag of [...(json?.tags ?? []), 'news']) this.tags.add(tag); // the record's old and new tags
    }
    if (api === 'api' && resource === 'regions' && param !== undefined) this.regions.add(decodeURIComponent(param));
  }

  touches(entry: { region: string; key: string; tags: string[] }): boolean {
    return (
      this.regions.has(entry.region) ||
      this.keys.has(`${entry.region}\u0000${entry.key}`) ||
      entry.tags.some((t) => this.tags.has(t)) ||
      [...this.prefixes].some((p) => entry.key.startsWith(p))
    );
  }
}

function parse(body: Buffer | undefined): { keys?: string[]; tags?: string[]; prefixes?: string[]; dryRun?: unknown } | undefined {
  try {
    const value: unknown = body === undefined ? undefined : JSON.parse(body.toString());
    return typeof value === 'object' && value !== null ? (value as never) : undefined;
  } catch {
    return undefined;
  }
}

describe(`${REQUESTS} random requests (seed ${SEED})`, () => {
  it('get no 5xx and no hang, and leave everything they did not name as it was', async () => {
    const named = new Named();
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let mutations = 0;
    for (const sent of fc.sample(requests, { seed: SEED, numRuns: REQUESTS })) {
      const line = `${sent.method} ${sent.path}${sent.query} (${sent.contentType ?? 'no content type'}, ${sent.body?.length ?? 'no'} body bytes)`;
      const { status, text } = await send(sent).catch((error: Error) => ({ status: 0, text: error.message }));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 0 || status >= 500) failures.push(`${line} → ${status} ${text.slice(0, 200)}`);
      if (status >= 200 && status < 300 && !['GET', 'HEAD', 'OPTIONS', 'TRACE'].includes(sent.method)) {
        named.record(sent);
        mutations++;
      }
    }
    expect(failures, `answers by status: ${JSON.stringify(Object.fromEntries(statuses))}`).toEqual([]);
    expect(mutations, 'successful mutations among the random requests').toBeGreaterThanOrEqual(50);

    const ready = await app.inject('/ready');
    expect(ready.statusCode, ready.body).toBe(200);

    for (const record of records.filter((r) => !named.records.has(r.id))) {
      const res = await app.inject(`/api/content/${record.id}`);
      expect(res.json(), `record ${record.id}`).toEqual(record);
    }
    const untouched = entries.filter((entry) => !named.touches(entry));
    expect(untouched.length, 'entries left to check').toBeGreaterThanOrEqual(20);
    for (const { region, key, value } of untouched) {
      const res = await app.inject(`/api/cache/${key}?region=${region}`);
      expect(res.statusCode, `${region} ${key}: ${res.body}`).toBe(200);
      expect(res.json<{ value: unknown }>().value, `${region} ${key}`).toEqual(value);
    }
  }, 300_000);
});
