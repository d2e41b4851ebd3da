import { describe, expect, it } from 'vitest';
import { OutboxFeed } from '../../src/adapters/postgres/outbox-feed.js';
import { SqlOriginStore } from '../../src/adapters/postgres/sql-origin-store.js';
import { testSqlClient } from '../testkit/test-topology.js';
import { changeFeedContract } from '../../src/testing/change-feed-contract.js';
import { originStoreContract } from './origin-store-contract.js';

originStoreContract('SqlOriginStore on PGlite', async () => new SqlOriginStore(await testSqlClient()));

changeFeedContract('OutboxFeed on PGlite', async () => {
  const sql = await testSqlClient();
  // A long poll: the tests must pass on NOTIFY wake-ups and redelivery alone.
  return { origin: new SqlOriginStore(sql), newFeed: () => new OutboxFeed({ sql, pollMs: 60_000 }) };
});

describe('OutboxFeed on PGlite', () => {
  it('relays a row that commits after rows with higher ids were relayed (concurrent writers)', async () => {
    const sql = await testSqlClient();
    const origin = new SqlOriginStore(sql);
    const feed = new OutboxFeed({ sql, pollMs: 60_000 });
    const seen: number[] = [];
    let notify = () => {};
    await feed.start(async (changes) => {
      seen.push(...changes.map((c) => c.contentId));
      notify();
    });
    const first = await origin.create({ slug: 'a', title: 'A' });
    while (!seen.includes(first.id)) await new Promise<void>((resolve) => (notify = resolve));
    await feed.wake(); // the drain that relayed it has deleted its row (id 1) too
    // A transaction that took outbox id 1 long ago commits only now.
    const late = new Promise<void>((resolve) => (notify = resolve));
    await sql.query(`INSERT INTO freshcache_outbox (id, content_id, op, tags, version) VALUES (1, 4242, 'update', '{}', 1)`);
    await feed.wake();
    await late;
    await feed.stop();
    expect(seen).toContain(4242);
  });
});
