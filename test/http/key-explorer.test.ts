import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/engine/clock.js';
import { testApp } from '../testkit/test-topology.js';

interface Page {
  region: string;
  items: { key: string; tier: string; state: string; tags: string[]; value: unknown; ttlMs: number; ageMs: number; size: number; version: number | null }[];
  cursor: string | null;
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
  it('pages through a prefix returning every key exactly once, in order', async () => {
    const { app } = await testApp({ clock: new ManualClock() });
    const users = await store(app, 23);
    const pages = await allPages(app, 'prefix=user:&limit=7');
    expect(pages.map((p) => p.items.length)).toEqual([7, 7, 7, 2]);
    expect(keysOf(pages)).toEqual(users);
    expect(pages[0]!.items[0]).toMatchObject({ key: 'user:00', value: 0, tags: ['vip'], state: 'fresh', version: null, ageMs: 0, ttlMs: 60_000 });
    expect(pages[0]!.region).toBe('us-east');
  });

  it('pages through a tag filter returning every tagged key exactly once', async () => {
    const { app } = await testApp();
    const users = await store(app, 23);
    const vip = [...users.filter((_, i) => i % 3 === 0), 'post:1', 'post:2', 'userx', 'a'].sort();
    const pages = await allPages(app, 'tag=vip&limit=3');
    expect(keysOf(pages)).toEqual(vip);
    for (const page of pages) expect(page.items.length).toBeLessThanOrEqual(3);
    expect(keysOf(await allPages(app, 'tag=vip&prefix=user:&limit=2'))).toEqual(vip.filter((k) => k.startsWith('user:')));
  });

  it('lists keys held only in L2 too (a tiny L1), each exactly once', async () => {
    const { app } = await testApp({ config: { regions: [{ name: 'r1', l1: { maxEntries: 4 } }] } });
    const users = await store(app, 30, 'r1');
    expect(keysOf(await allPages(app, 'prefix=user:&limit=4'))).toEqual(users);
    const pages = await allPages(app, 'limit=5');
    expect(keysOf(pages)).toEqual([...users, 'a', 'post:1', 'post:2', 'userx'].sort());
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
    expect(empty.json()).toEqual({ region: 'us-east', items: [], cursor: null });
  });
});
