import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import type { ContentRecord } from '../../packages/freshcache-server/src/demo/content-store.js';
import { testApp } from '../testkit/test-topology.js';
import { createContent } from '../http/http-kit.js';

describe('/api/content (the origin)', () => {
  it('creates, reads, updates and deletes content', async () => {
    const { app } = await testApp();
    const res = await app.inject({ method: 'POST', url: '/api/content', payload: { slug: 'hello', title: 'Hello', tags: ['news'] } });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json<ContentRecord>();
    expect(created).toEqual({ id: expect.any(Number), slug: 'hello', title: 'Hello', body: '', tags: ['news'], version: expect.any(Number), updatedAt: expect.any(String) });
    expect(res.headers.location).toBe(`/api/content/${created.id}`);
    expect((await app.inject(`/api/content/${created.id}`)).json()).toEqual(created);

    const updated = await app.inject({ method: 'PUT', url: `/api/content/${created.id}`, payload: { title: 'Hello again', body: 'text' } });
    expect(updated.statusCode, updated.body).toBe(200);
    const after = updated.json<ContentRecord>();
    expect(after).toMatchObject({ id: created.id, slug: 'hello', title: 'Hello again', body: 'text', tags: ['news'] });
    expect(after.version).toBeGreaterThan(created.version);
    expect((await app.inject(`/api/content/${created.id}`)).json()).toEqual(after);

    expect((await app.inject({ method: 'DELETE', url: `/api/content/${created.id}` })).statusCode).toBe(204);
    expect((await app.inject(`/api/content/${created.id}`)).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: `/api/content/${created.id}` })).statusCode).toBe(404);
  });

  it('drops duplicate tags on create and update', async () => {
    const { app } = await testApp();
    const created = await app.inject({ method: 'POST', url: '/api/content', payload: { slug: 'dup', title: 'Dup', tags: ['a', 'b', 'a'] } });
    expect(created.json()).toMatchObject({ tags: ['a', 'b'] });
    const id = created.json<ContentRecord>().id;
    const updated = await app.inject({ method: 'PUT', url: `/api/content/${id}`, payload: { tags: ['c', 'c'] } });
    expect(updated.json()).toMatchObject({ tags: ['c'] });
  });

  it('lists content a page at a time, every record once, and filters by tag', async () => {
    const { app } = await testApp();
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ method: 'POST', url: '/api/content', payload: { slug: `s${i}`, title: `T${i}`, tags: i % 2 ? ['odd'] : [] } });
      ids.push(res.json<ContentRecord>().id);
    }
    const seen: number[] = [];
    let cursor: number | null = null;
    do {
      const page: { items: ContentRecord[]; cursor: number | null } = (await app.inject(`/api/content?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`)).json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((r) => r.id));
      cursor = page.cursor;
    } while (cursor !== null);
    expect(seen).toEqual(ids);
    const odd = (await app.inject('/api/content?tag=odd')).json<{ items: ContentRecord[] }>();
    expect(odd.items.map((r) => r.slug)).toEqual(['s1', 's3']);
  });
});

describe('GET /edge/:region/content/:id', () => {
  it('gives MISS then HIT with X-Cache, X-Cache-Region, X-Cache-Version and Age, per region', async () => {
    const clock = new ManualClock();
    const { app, topology } = await testApp({ clock });
    const record = await createContent(app, topology, { slug: 'edge', title: 'Edge', tags: ['news'] });
    await clock.advanceAsync(1_000); // the insert's own invalidation lands everywhere first

    const first = await app.inject(`/edge/us-east/content/${record.id}`);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toEqual(record);
    expect(first.headers).toMatchObject({ 'x-cache': 'MISS', 'x-cache-region': 'us-east', 'x-cache-version': String(record.version), age: '0' });

    await clock.advanceAsync(3_000);
    const second = await app.inject(`/edge/us-east/content/${record.id}`);
    expect(second.json()).toEqual(record);
    expect(second.headers).toMatchObject({ 'x-cache': 'HIT', 'x-cache-region': 'us-east', 'x-cache-version': String(record.version), age: '3' });

    const elsewhere = await app.inject(`/edge/eu-west/content/${record.id}`);
    expect(elsewhere.headers).toMatchObject({ 'x-cache': 'MISS', 'x-cache-region': 'eu-west' });
  });

  it('serves a change once the region applied it, and a delete as 404', async () => {
    const clock = new ManualClock();
    const { app, topology } = await testApp({ clock });
    const record = await createContent(app, topology, { slug: 'edge', title: 'v1' });
    await clock.advanceAsync(1_000);
    await app.inject(`/edge/us-east/content/${record.id}`);

    let published = once(topology.events, 'invalidation.published');
    const updated = (await app.inject({ method: 'PUT', url: `/api/content/${record.id}`, payload: { title: 'v2' } })).json<ContentRecord>();
    await published;
    expect((await app.inject(`/edge/us-east/content/${record.id}`)).json()).toMatchObject({ title: 'v1' });
    await clock.advanceAsync(100);
    const fresh = await app.inject(`/edge/us-east/content/${record.id}`);
    expect(fresh.json()).toMatchObject({ title: 'v2' });
    expect(fresh.headers).toMatchObject({ 'x-cache': 'MISS', 'x-cache-version': String(updated.version) });

    published = once(topology.events, 'invalidation.published');
    await app.inject({ method: 'DELETE', url: `/api/content/${record.id}` });
    await published;
    await clock.advanceAsync(100);
    const gone = await app.inject(`/edge/us-east/content/${record.id}`);
    expect(gone.statusCode).toBe(404);
    expect(gone.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});
