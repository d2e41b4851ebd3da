import { once } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import type { ContentList, ContentRecord } from '../../packages/freshcache-server/src/demo/content-store.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { createContent } from '../http/http-kit.js';
import { demoOf, testApp } from '../testkit/test-topology.js';

/**
 * What a change of the demo's content drops, and what it leaves: an article's own entry and the
 * list views it is in, not the other articles of its tags. All reads go through us-east (100 ms).
 */

/** A topology whose inserts have been applied everywhere, with the articles the test made. */
async function setup(articles: { slug: string; tags: string[] }[]) {
  const clock = new ManualClock();
  const { app, topology } = await testApp({ clock });
  const records: ContentRecord[] = [];
  for (const { slug, tags } of articles) records.push(await createContent(app, topology, { slug, title: slug, tags }));
  await clock.advanceAsync(1_000);
  return { app, topology, clock, records };
}

/** Runs `change`, waits for the relay to publish its event, and lets us-east apply it. */
async function applied(topology: Topology, clock: ManualClock, change: () => Promise<unknown>): Promise<void> {
  const published = once(topology.events, 'invalidation.published');
  await change();
  await published;
  await clock.advanceAsync(100);
}

async function read(app: FastifyInstance, id: number) {
  const res = await app.inject(`/edge/us-east/content/${id}`);
  return { status: res.statusCode, cache: res.headers['x-cache'], record: res.json<ContentRecord>() };
}

async function list(app: FastifyInstance, tag: string) {
  const res = await app.inject(`/edge/us-east/content?tag=${tag}`);
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json<ContentList>();
  return { cache: res.headers['x-cache'], titles: body.items.map((item) => item.title), body, headers: res.headers };
}

async function put(app: FastifyInstance, id: number, patch: object) {
  const res = await app.inject({ method: 'PUT', url: `/api/content/${id}`, payload: patch });
  expect(res.statusCode, res.body).toBe(200);
}

describe('the demo drops what a change made stale, and no more', () => {
  it('an update of an article drops its own entry, not the other articles that share its tag', async () => {
    const { app, topology, clock, records } = await setup([
      { slug: 'a', tags: ['news', 'front-page'] },
      { slug: 'b', tags: ['news', 'front-page'] },
    ]);
    const [a, b] = records as [ContentRecord, ContentRecord];
    for (const id of [a.id, b.id]) expect((await read(app, id)).cache).toBe('MISS');
    for (const id of [a.id, b.id]) expect((await read(app, id)).cache).toBe('HIT');

    await applied(topology, clock, () => put(app, a.id, { title: 'a, edited' }));
    expect(await read(app, a.id)).toMatchObject({ cache: 'MISS', record: { title: 'a, edited' } });
    expect(await read(app, b.id)).toMatchObject({ cache: 'HIT', record: { title: 'b' } });
  });

  it("caches a tag's list view, and drops it when an article joins the tag, changes in it, leaves it or is deleted", async () => {
    const { app, topology, clock, records } = await setup([
      { slug: 'a', tags: ['news'] },
      { slug: 'b', tags: ['sport'] },
    ]);
    const [a, b] = records as [ContentRecord, ContentRecord];
    const first = await list(app, 'news');
    expect(first).toMatchObject({ cache: 'MISS', titles: ['a'], body: { tag: 'news', more: false } });
    expect(first.body.items[0]).toEqual({ id: a.id, slug: 'a', title: 'a', tags: ['news'], version: a.version, updatedAt: a.updatedAt });
    await clock.advanceAsync(2_000);
    expect((await list(app, 'news')).headers).toMatchObject({ 'x-cache': 'HIT', 'x-cache-region': 'us-east', age: '2' });

    await applied(topology, clock, () => put(app, b.id, { tags: ['sport', 'news'] }));
    expect(await list(app, 'news')).toMatchObject({ cache: 'MISS', titles: ['a', 'b'] });
    expect(await list(app, 'news')).toMatchObject({ cache: 'HIT' });

    await applied(topology, clock, () => put(app, a.id, { title: 'a, edited' }));
    expect(await list(app, 'news')).toMatchObject({ cache: 'MISS', titles: ['a, edited', 'b'] });

    await applied(topology, clock, () => put(app, b.id, { tags: ['sport'] }));
    expect(await list(app, 'news')).toMatchObject({ cache: 'MISS', titles: ['a, edited'] });

    await applied(topology, clock, () => app.inject({ method: 'DELETE', url: `/api/content/${a.id}` }));
    expect(await list(app, 'news')).toMatchObject({ cache: 'MISS', titles: [] });
  });

  it("leaves a tag's list view cached when an article outside the tag changes", async () => {
    const { app, topology, clock, records } = await setup([
      { slug: 'a', tags: ['news'] },
      { slug: 'b', tags: ['sport'] },
    ]);
    await list(app, 'news');
    await applied(topology, clock, () => put(app, records[1]!.id, { title: 'b, edited' }));
    expect(await list(app, 'news')).toMatchObject({ cache: 'HIT', titles: ['a'] });
  });

  it("a tag's list view holds its first 50 articles by id, and says when the tag has more", async () => {
    const { app, topology, clock } = await setup([]);
    await applied(topology, clock, () =>
      demoOf(topology).store.execute(`INSERT INTO content (slug, title, tags) SELECT 's' || n, 't' || n, '{news}' FROM generate_series(1, 51) AS n`),
    );
    const full = await list(app, 'news');
    expect(full.titles).toEqual(Array.from({ length: 50 }, (_, i) => `t${i + 1}`));
    expect(full.body.more).toBe(true);
    await applied(topology, clock, () => demoOf(topology).store.execute(`DELETE FROM content WHERE slug = 's51'`));
    expect((await list(app, 'news')).body).toMatchObject({ more: false });
  });

  it("an operator's purge of a tag drops every article tagged so and the tag's list view", async () => {
    const { app, topology, clock, records } = await setup([
      { slug: 'a', tags: ['news'] },
      { slug: 'b', tags: ['news'] },
      { slug: 'c', tags: ['sport'] },
    ]);
    const [a, b, c] = records as [ContentRecord, ContentRecord, ContentRecord];
    for (const id of [a.id, b.id, c.id]) await read(app, id);
    await list(app, 'news');

    await applied(topology, clock, async () => {
      const res = await app.inject({ method: 'POST', url: '/api/invalidate', payload: { tags: ['news'] } });
      expect(res.statusCode, res.body).toBe(202);
    });
    expect((await read(app, a.id)).cache).toBe('MISS');
    expect((await read(app, b.id)).cache).toBe('MISS');
    expect((await list(app, 'news')).cache).toBe('MISS');
    expect((await read(app, c.id)).cache).toBe('HIT');
  });

  it('a TRUNCATE of the table drops the articles and the list views', async () => {
    const { app, topology, clock, records } = await setup([{ slug: 'a', tags: ['news'] }]);
    const [a] = records as [ContentRecord];
    await read(app, a.id);
    await list(app, 'news');

    await applied(topology, clock, () => demoOf(topology).store.execute('TRUNCATE content'));
    expect((await read(app, a.id)).status).toBe(404);
    expect(await list(app, 'news')).toMatchObject({ cache: 'MISS', titles: [] });
  });
});
