import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { redisForFile } from '../testkit/redis-server.js';
import { testApp } from '../testkit/test-topology.js';

interface Page {
  region: string;
  items: { key: string; tier: string; state: string; tags: string[]; value: unknown; ttlMs: number; ageMs: number; size: number; version: number | null }[];
  cursor: string | null;
  stoppedBy: 'limit' | 'budget' | 'end';
  examined: number;
}

/** Follows the cursor to the end; returns every page. */
async function allPages(app: FastifyInstance, query: string): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/api/cache?${query}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const res = await app.inject(url);
    expect(res.statusCode, res.body).toBe(200);
    const page = res.json<Page>();
    pages.push(page);
    cursor = page.cursor;
    expect(pages.length).toBeLessThan(100);
  } while (cursor !== null);
  return pages;
}

const keysOf = (pages: Page[]) => pages.flatMap((p) => p.items.map((i) => i.key));
/** The keys of every page, sorted, after checking that none was listed twice. */
function listedOnce(pages: Page[]): string[] {
  const keys = keysOf(pages);
  expect(new Set(keys).size, 'a key listed twice').toBe(keys.length);
  return keys.sort();
}

async function store(app: FastifyInstance, count: number, region = 'us-east') {
  const users: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = `user:${String(i).padStart(2, '0')}`;
    users.push(key);
    const res = await app.inject({ method: 'PUT', url: `/api/cache/${key}?region=${region}`, payload: { value: i, tags: i % 3 === 0 ? ['vip'] : ['plain'] } });
    expect(res.statusCode).toBe(201);
  }
  for (const key of ['post:1', 'post:2', 'userx', 'a']) {
    await app.inject({ method: 'PUT', url: `/api/cache/${key}?region=${region}`, payload: { value: key, tags: ['vip'] } });
  }
  return users;
}

describe('GET /api/cache (key explorer)', () => {
  it('pages through a prefix returning every key exactly once, saying why each page ended', async () => {
    const { app } = await testApp({ clock: new ManualClock() });
    const users = await store(app, 23);
    const pages = await allPages(app, 'prefix=user:&limit=7');
    expect(pages.map((p) => p.items.length)).toEqual([7, 7, 7, 2]);
    expect(pages.map((p) => p.stoppedBy)).toEqual(['limit', 'limit', 'limit', 'end']);
    expect(listedOnce(pages)).toEqual(users);
    expect(pages[0]!.items.find((i) => i.key === 'user:00')).toMatchObject({ value: 0, tags: ['vip'], state: 'fresh', version: null, ageMs: 0, ttlMs: 60_000 });
    expect(pages[0]!.region).toBe('us-east');
  });

  it('pages through a tag filter returning every tagged key exactly once', async () => {
    const { app } = await testApp();
    const users = await store(app, 23);
    const vip = [...users.filter((_, i) => i % 3 === 0), 'post:1', 'post:2', 'userx', 'a'].sort();
    const pages = await allPages(app, 'tag=vip&limit=3');
    expect(listedOnce(pages)).toEqual(vip);
    for (const page of pages) expect(page.items.length).toBeLessThanOrEqual(3);
    expect(listedOnce(await allPages(app, 'tag=vip&prefix=user:&limit=2'))).toEqual(vip.filter((k) => k.startsWith('user:')));
  });

  it('lists keys held only in L2 too (a tiny L1), each exactly once', async () => {
    const { app } = await testApp({ config: { regions: [{ name: 'r1', l1: { maxEntries: 4 } }] } });
    const users = await store(app, 30, 'r1');
    expect(listedOnce(await allPages(app, 'prefix=user:&limit=4'))).toEqual(users);
    const pages = await allPages(app, 'limit=5');
    expect(listedOnce(pages)).toEqual([...users, 'a', 'post:1', 'post:2', 'userx'].sort());
    const tiers = new Set(pages.flatMap((p) => p.items.map((i) => i.tier)));
    expect(tiers).toEqual(new Set(['l1', 'l2']));
  });

  it('omits expired entries, and an empty result has a null cursor', async () => {
    const clock = new ManualClock();
    const { app } = await testApp({ clock });
    await app.inject({ method: 'PUT', url: '/api/cache/short', payload: { value: 1, ttl: 1 } });
    await app.inject({ method: 'PUT', url: '/api/cache/long', payload: { value: 2, ttl: 100 } });
    await clock.advanceAsync(1_000);
    expect(keysOf(await allPages(app, 'limit=10'))).toEqual(['long']);
    const empty = await app.inject('/api/cache?prefix=nothing:');
    expect(empty.json()).toMatchObject({ region: 'us-east', items: [], cursor: null, stoppedBy: 'end' });
  });

  it('a page stops at its budget of 5,000 keys examined, says so, and its cursor goes on', async () => {
    const { app, topology } = await testApp();
    const cache = topology.region('us-east').cache;
    for (let i = 0; i < 6000; i++) await cache.set(`k:${String(i).padStart(4, '0')}`, i, { tags: i === 5500 ? ['rare'] : [] });
    const first = (await app.inject('/api/cache?tag=rare&limit=10')).json<Page>();
    expect(first).toMatchObject({ items: [], stoppedBy: 'budget', examined: 5000 });
    expect(first.cursor).toEqual(expect.any(String));
    const pages = await allPages(app, 'tag=rare&limit=10');
    expect(listedOnce(pages)).toEqual(['k:5500']);
    expect(pages.at(-1)!.stoppedBy).toBe('end');
  });

  it('answers a cursor it did not hand out with 400 bad_request', async () => {
    const { app } = await testApp();
    for (const cursor of ['nonsense', 'l2:%25%25', 'l1:abcd']) {
      const res = await app.inject(`/api/cache?cursor=${cursor}`);
      expect(res.statusCode, cursor).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'bad_request' } });
    }
  });
});

describe('GET /api/cache and the dry run on a Redis L2', () => {
  const redis = redisForFile();

  it('walks the shared tier page by page, every key once, and the dry run counts them without partial', async () => {
    const { url } = redis().server;
    const { app, topology } = await testApp({ config: { log: { kind: 'redis', redis: { url } }, l2: { kind: 'redis', redis: { url } } } });
    const cache = topology.region('us-east').cache;
    const keys = Array.from({ length: 500 }, (_, i) => `user:${i}`);
    await Promise.all(keys.map((k, i) => cache.set(k, i, { tags: i % 5 === 0 ? ['vip'] : [] })));
    await cache.set('other', 0, { tags: ['vip'] });

    const pages = await allPages(app, 'region=us-east&prefix=user:&limit=100');
    expect(listedOnce(pages)).toEqual([...keys].sort());
    expect(pages.at(-1)!.stoppedBy).toBe('end');
    const vip = await allPages(app, 'region=us-east&tag=vip&limit=30');
    expect(listedOnce(vip)).toEqual([...keys.filter((_, i) => i % 5 === 0), 'other'].sort());

    const res = await app.inject({ method: 'POST', url: '/api/invalidate', payload: { tags: ['vip'], prefixes: ['other'], dryRun: true } });
    expect(res.statusCode).toBe(200);
    expect(res.json().regions['us-east']).toMatchObject({ total: 101, partial: false });
    expect(res.json().regions['eu-west']).toEqual({ keys: [], total: 0, partial: false });
  });
});
