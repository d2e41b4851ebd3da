import { describe, expect, it } from 'vitest';
import type { ContentStore } from '../../packages/freshcache-server/src/demo/content-store.js';

/** The contract the demo's `ContentStore` keeps, on PGlite and on PostgreSQL. */
export function contentStoreContract(name: string, make: () => Promise<ContentStore>) {
  describe(`ContentStore contract: ${name}`, () => {
    it('creates, reads, updates and deletes content', async () => {
      const origin = await make();
      const created = await origin.create({ slug: 'a', title: 'A', body: 'x', tags: ['news'] });
      expect(created).toMatchObject({ slug: 'a', title: 'A', body: 'x', tags: ['news'] });
      expect(await origin.get(created.id)).toEqual(created);
      const updated = await origin.update(created.id, { title: 'A2' });
      expect(updated).toMatchObject({ id: created.id, slug: 'a', title: 'A2', body: 'x', tags: ['news'] });
      expect(await origin.delete(created.id)).toBe(true);
      expect(await origin.get(created.id)).toBeUndefined();
      expect(await origin.update(created.id, { title: 'gone' })).toBeUndefined();
      expect(await origin.delete(created.id)).toBe(false);
    });

    it('versions increase on every change, across rows', async () => {
      const origin = await make();
      const a = await origin.create({ slug: 'a', title: 'A' });
      const b = await origin.create({ slug: 'b', title: 'B' });
      const a2 = (await origin.update(a.id, { body: 'changed' }))!;
      expect(b.version).toBeGreaterThan(a.version);
      expect(a2.version).toBeGreaterThan(b.version);
    });

    it('bumps the version for changes made in raw SQL too', async () => {
      const origin = await make();
      const a = await origin.create({ slug: 'a', title: 'A' });
      await origin.execute(`UPDATE content SET title = 'from psql' WHERE id = $1`, [a.id]);
      const after = (await origin.get(a.id))!;
      expect(after.title).toBe('from psql');
      expect(after.version).toBeGreaterThan(a.version);
    });

    it('refuses a duplicate slug with a conflict', async () => {
      const origin = await make();
      await origin.create({ slug: 'same', title: 'A' });
      await expect(origin.create({ slug: 'same', title: 'B' })).rejects.toMatchObject({ code: 'conflict' });
    });

    it('lists in id order, a page at a time, optionally by tag', async () => {
      const origin = await make();
      for (let i = 0; i < 7; i++) await origin.create({ slug: `s${i}`, title: `T${i}`, tags: i % 2 ? ['odd'] : [] });
      const first = await origin.list({ limit: 5 });
      expect(first.items).toHaveLength(5);
      const second = await origin.list({ afterId: first.cursor, limit: 5 });
      expect(second.items).toHaveLength(2);
      expect(second.cursor).toBeUndefined();
      expect((await origin.list({ limit: 10, tag: 'odd' })).items.map((i) => i.slug)).toEqual(['s1', 's3', 's5']);
    });
  });
}
