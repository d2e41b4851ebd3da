import { describe, expect, it, onTestFinished } from 'vitest';
import { createPgClient } from '../../src/adapters/postgres/pg-client.js';
import { OutboxFeed } from '../../src/adapters/postgres/outbox-feed.js';
import { SqlOriginStore } from '../../src/adapters/postgres/sql-origin-store.js';
import type { Change } from '../../src/seams/change-feed.js';
import { postgresForFile } from '../testkit/postgres-server.js';
import { changeFeedContract } from '../../src/testing/change-feed-contract.js';
import { originStoreContract } from './origin-store-contract.js';

/**
 * The same contract suites as PGlite, against a real PostgreSQL server this file starts on a free
 * port in a temp folder. Each test gets a database of its own.
 */
const postgres = postgresForFile();
let databases = 0;

async function freshClient() {
  const client = await createPgClient({ connectionString: await postgres().createDatabase(`t${++databases}`) });
  onTestFinished(() => client.close());
  return client;
}

originStoreContract('SqlOriginStore on PostgreSQL', async () => new SqlOriginStore(await freshClient()));

changeFeedContract('OutboxFeed on PostgreSQL', async () => {
  const sql = await freshClient();
  return { origin: new SqlOriginStore(sql), newFeed: () => new OutboxFeed({ sql, pollMs: 60_000 }) };
});

describe('OutboxFeed on PostgreSQL with concurrent writers', () => {
  it('relays a change whose transaction took a lower outbox id but committed last', async () => {
    const sql = await freshClient();
    const origin = new SqlOriginStore(sql);
    const a = await origin.create({ slug: 'a', title: 'A' });
    const b = await origin.create({ slug: 'b', title: 'B' });
    const seen: Change[] = [];
    let notify = () => {};
    const feed = new OutboxFeed({ sql, pollMs: 60_000 });
    await feed.start(async (changes) => {
      seen.push(...changes);
      notify();
    });
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise<void>((resolve) => (notify = resolve));
    };
    await until(() => seen.length >= 2);

    const slow = await sql.pool.connect();
    onTestFinished(() => slow.release());
    await slow.query('BEGIN');
    await slow.query(`UPDATE content SET title = 'A2' WHERE id = $1`, [a.id]); // takes the lower outbox id
    await origin.update(b.id, { title: 'B2' }); // takes a higher id and commits first
    await until(() => seen.some((c) => c.contentId === b.id && c.op === 'update'));
    await slow.query('COMMIT');
    await until(() => seen.some((c) => c.contentId === a.id && c.op === 'update'));
    await feed.stop();
    const updates = seen.filter((c) => c.op === 'update');
    expect(updates.map((c) => c.contentId)).toEqual([b.id, a.id]);
    expect(updates[1]!.position).toBeLessThan(updates[0]!.position);
  });
});
