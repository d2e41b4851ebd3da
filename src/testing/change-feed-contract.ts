import { describe, expect, it } from 'vitest';
import type { Change, ChangeFeed } from '../seams/change-feed.js';
import type { OriginStore } from '../seams/origin-store.js';

export interface FeedFixture {
  origin: OriginStore;
  /** A new feed reader over the same database and durable position (a relay restart). */
  newFeed(): ChangeFeed;
}

/** Waits until `changes` holds at least `count` entries, re-checking whenever the feed delivers. */
function collector() {
  const changes: Change[] = [];
  let waiters: (() => void)[] = [];
  const handler = async (batch: Change[]) => {
    changes.push(...batch);
    for (const w of waiters) w();
    waiters = [];
  };
  const until = async (count: number) => {
    while (changes.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { changes, handler, until };
}

/** The contract every `ChangeFeed` keeps (outbox now; WAL logical replication later). */
export function changeFeedContract(name: string, make: () => Promise<FeedFixture>) {
  describe(`ChangeFeed contract: ${name}`, () => {
    it('reports inserts, updates, deletes and raw SQL changes, in commit order, with tags and versions', async () => {
      const { origin, newFeed } = await make();
      const feed = newFeed();
      const got = collector();
      await feed.start(got.handler);
      const a = await origin.create({ slug: 'a', title: 'A', tags: ['x'] });
      const a2 = (await origin.update(a.id, { tags: ['y'] }))!;
      await origin.execute(`UPDATE content SET title = 'psql' WHERE id = $1`, [a.id]);
      await origin.delete(a.id);
      await got.until(4);
      await feed.stop();
      expect(got.changes.map((c) => c.op)).toEqual(['insert', 'update', 'update', 'delete']);
      expect(got.changes.every((c) => c.contentId === a.id)).toBe(true);
      expect(got.changes[1]!.tags).toEqual(['x', 'y']); // before and after: both views are affected
      expect(got.changes[1]!.version).toBe(a2.version);
      const versions = got.changes.map((c) => c.version);
      expect(versions).toEqual([...versions].sort((x, y) => x - y));
    });

    it('redelivers changes whose handler failed, and loses none', async () => {
      const { origin, newFeed } = await make();
      const feed = newFeed();
      let failures = 1;
      const got = collector();
      await feed.start(async (batch) => {
        if (failures-- > 0) throw new Error('log unavailable');
        await got.handler(batch);
      });
      await origin.create({ slug: 'a', title: 'A' });
      await origin.create({ slug: 'b', title: 'B' }); // a later change wakes the feed again
      await got.until(2);
      await feed.stop();
      expect(got.changes.map((c) => c.op)).toEqual(['insert', 'insert']);
    });

    it('resumes after a restart from its durable position: nothing lost, nothing acknowledged repeated', async () => {
      const { origin, newFeed } = await make();
      const first = newFeed();
      const before = collector();
      await first.start(before.handler);
      await origin.create({ slug: 'a', title: 'A' });
      await before.until(1);
      await first.stop();

      // Changes made while no relay runs.
      await origin.create({ slug: 'b', title: 'B' });
      await origin.execute(`UPDATE content SET body = 'while down' WHERE slug = 'a'`);

      const second = newFeed();
      const after = collector();
      await second.start(after.handler);
      await after.until(2);
      await second.stop();
      expect(after.changes.map((c) => c.op)).toEqual(['insert', 'update']);
      expect(after.changes[0]!.position).toBeGreaterThan(before.changes[0]!.position);
    });
  });
}
