import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { OutboxFeed } from '../../src/adapters/postgres/outbox-feed.js';
import { createPgClient } from '../../src/adapters/postgres/pg-client.js';
import { SqlOriginStore } from '../../src/adapters/postgres/sql-origin-store.js';
import type { WalFeedOptions } from '../../src/adapters/postgres/wal-feed.js';
import { dropWalSlot, parseLsn, WalFeed } from '../../src/adapters/postgres/wal-feed.js';
import type { Change } from '../../src/seams/change-feed.js';
import { postgresForFile } from '../testkit/postgres-server.js';
import { changeFeedContract } from '../../src/testing/change-feed-contract.js';
import { signal } from '../testkit/signal.js';

/**
 * The ChangeFeed contract and WAL-specific behaviour against a real PostgreSQL this file starts
 * (wal_level=logical). Each test gets a database of its own; slots are per cluster, so each
 * database gets its own slot, dropped when the test ends.
 */
const postgres = postgresForFile();
let databases = 0;

function collector() {
  const batches: Change[][] = [];
  const changed = signal();
  return {
    batches,
    get changes() {
      return batches.flat();
    },
    handler: async (batch: Change[]) => {
      batches.push(batch);
      changed.notify();
    },
    until: (count: number) => changed.until(() => batches.flat().length >= count),
    untilSome: (match: (change: Change) => boolean) => changed.until(() => batches.flat().some(match)),
  };
}

async function freshDatabase() {
  const name = `w${++databases}`;
  const url = await postgres().createDatabase(name);
  const sql = await createPgClient({ connectionString: url });
  const slotName = `freshcache_${name}`;
  const feeds: WalFeed[] = [];
  const errors: unknown[] = [];
  onTestFinished(async () => {
    for (const feed of feeds) await feed.stop();
    await dropWalSlot(sql, slotName);
    await sql.close();
  });
  const newFeed = (options: Partial<WalFeedOptions> = {}) => {
    const feed = new WalFeed({
      connectionString: url,
      sql,
      slotName,
      onError: (error) => errors.push(error),
      ...options,
    });
    feeds.push(feed);
    return feed;
  };
  return { name, url, sql, slotName, origin: new SqlOriginStore(sql), newFeed, errors };
}

changeFeedContract('WalFeed on PostgreSQL', async () => {
  const { origin, newFeed } = await freshDatabase();
  return { origin, newFeed: () => newFeed() };
});

describe('WalFeed on PostgreSQL', () => {
  it('delivers a transaction made in SQL on a second connection as one batch, with old tags and versions', async () => {
    const db = await freshDatabase();
    const feed = db.newFeed();
    const got = collector();
    await feed.start(got.handler);

    const psql = new pg.Client({ connectionString: db.url });
    await psql.connect();
    onTestFinished(() => psql.end());
    await psql.query('BEGIN');
    const { rows } = await psql.query<{ id: string }>(
      `INSERT INTO content (slug, title, tags) VALUES ('raw', 'Raw', '{b,a}') RETURNING id`,
    );
    const id = Number(rows[0]!.id);
    await psql.query(`UPDATE content SET tags = '{c,a}' WHERE id = $1`, [id]);
    await psql.query('COMMIT');
    const updated = (await db.origin.get(id))!;
    await psql.query('DELETE FROM content WHERE id = $1', [id]);
    await got.until(3);
    await feed.stop();

    expect(got.batches.map((batch) => batch.map((c) => c.op))).toEqual([['insert', 'update'], ['delete']]);
    const [insert, update, remove] = got.changes;
    expect(insert!.position).toBe(update!.position); // one transaction, one commit position
    expect(remove!.position).toBeGreaterThan(update!.position);
    expect(got.changes.every((c) => c.contentId === id)).toBe(true);
    expect(insert!.tags).toEqual(['a', 'b']);
    expect(update!.tags).toEqual(['a', 'b', 'c']); // before and after
    expect(update!.version).toBe(updated.version);
    expect(remove!.tags).toEqual(['a', 'c']); // REPLICA IDENTITY FULL: a delete carries its row
    expect(remove!.version).toBe(updated.version);
    expect(Math.abs(insert!.committedAt - Date.now())).toBeLessThan(60_000);
    expect(await feed.position()).toBe(remove!.position);
  });

  it('confirms the slot past the last change on idle keepalives, so it retains no WAL', async () => {
    const db = await freshDatabase();
    // Keepalives that ask for a reply every 0.5 s, so the wait below has an event to re-check on
    // even when no WAL is written: the server applies an acknowledgement only when it reads it.
    await db.sql.query(`ALTER DATABASE ${db.name} SET wal_sender_timeout = '1s'`);
    const keepaliveAcks = signal();
    let lastKeepalive = 0;
    const feed = db.newFeed({
      onAcknowledge: (position, cause) => {
        if (cause !== 'keepalive') return;
        lastKeepalive = Math.max(lastKeepalive, position);
        keepaliveAcks.notify();
      },
    });
    const got = collector();
    await feed.start(got.handler);
    const lsn = async () => parseLsn((await db.sql.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn);

    const before = await lsn();
    await db.origin.execute(
      `INSERT INTO content (slug, title, body) SELECT 'bulk-' || g, 'T', repeat('x', 500) FROM generate_series(1, 200) g`,
    );
    expect((await lsn()) - before).toBeGreaterThan(64 * 1024); // enough WAL for "retains none" to mean something
    await got.until(200);
    const lastChange = got.changes.at(-1)!.position;

    // The feed's own outbox clean-up is a transaction outside the publications: pgoutput sends
    // nothing for it, only keepalives carry the slot past it.
    await keepaliveAcks.until(() => lastKeepalive > lastChange);
    // The server may not have read the acknowledgement yet, and background WAL (autovacuum,
    // checkpoints) may land after it: both are settled by a later keepalive, so wait for one.
    await keepaliveAcks.until(async () => (await feed.lagBytes()) < 1024);
    expect(await feed.position()).toBeGreaterThan(lastChange);
  });

  it('keeps the outbox from growing: relayed rows are deleted, and the trigger still writes', async () => {
    const db = await freshDatabase();
    const acked = signal();
    let position = 0;
    const feed = db.newFeed({
      onAcknowledge: (p) => {
        position = p;
        acked.notify();
      },
    });
    const got = collector();
    await feed.start(got.handler);
    const outboxRows = async () =>
      Number((await db.sql.query<{ n: string }>('SELECT count(*) AS n FROM freshcache_outbox')).rows[0]!.n);

    for (let i = 0; i < 30; i++) {
      const row = await db.origin.create({ slug: `s${i}`, title: 'T', tags: ['t'] });
      await db.origin.update(row.id, { title: 'T2' });
      if (i % 3 === 0) await db.origin.delete(row.id);
    }
    await got.until(70);
    const last = got.changes.at(-1)!.position;
    await acked.until(() => position >= last); // rows are deleted before the acknowledgement
    expect(await outboxRows()).toBe(0);
    await feed.stop();

    // The trigger was left on: a change made while no WAL feed runs is in the outbox, so a switch
    // back to the outbox feed relays it.
    const late = await db.origin.create({ slug: 'late', title: 'L' });
    expect(await outboxRows()).toBe(1);
    const outbox = new OutboxFeed({ sql: db.sql, pollMs: 60_000 });
    const relayed = collector();
    await outbox.start(relayed.handler);
    await outbox.stop();
    expect(relayed.changes.map((c) => c.contentId)).toEqual([late.id]);
  });

  it('resumes after a stop in the middle of a backlog: nothing lost, nothing acknowledged repeated', async () => {
    const db = await freshDatabase();
    const setup = db.newFeed();
    await setup.start(async () => {});
    await setup.stop();
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) ids.push((await db.origin.create({ slug: `b${i}`, title: 'B' })).id);

    const first = db.newFeed();
    const before = collector();
    const entered = signal();
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    await first.start(async (batch) => {
      await before.handler(batch);
      if (before.batches.length === 3) {
        entered.notify();
        await gate;
      }
    });
    await entered.until(() => before.batches.length >= 3);
    const stopping = first.stop(); // must wait for the batch in the handler
    release();
    await stopping;
    expect(before.changes.map((c) => c.contentId)).toEqual(ids.slice(0, 3));
    expect(await first.position()).toBe(before.changes[2]!.position);
    // The slot confirms exactly what the feed acknowledged: not one byte more (that could skip a
    // commit starting right there) nor less.
    const { rows } = await db.sql.query<{ lsn: string }>(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
      [db.slotName],
    );
    expect(parseLsn(rows[0]!.lsn)).toBe(await first.position());

    const second = db.newFeed();
    const after = collector();
    await second.start(after.handler);
    await after.until(7);
    await second.stop();
    expect(after.changes.map((c) => c.contentId)).toEqual(ids.slice(3));
    expect(after.changes[0]!.position).toBeGreaterThan(before.changes[2]!.position);
  });

  it('stands by while another feed holds the slot, and takes over when it stops (a relay failover)', async () => {
    const db = await freshDatabase();
    const leader = db.newFeed();
    const led = collector();
    await leader.start(led.handler);
    const a = await db.origin.create({ slug: 'a', title: 'A' });
    await led.until(1);

    const standby = db.newFeed({ retryMs: 20, maxRetryMs: 200 });
    const stood = collector();
    await standby.start(stood.handler); // resolves although the slot is busy: it keeps trying
    expect(String(db.errors[0])).toMatch(/replication slot .* is active/);
    await leader.stop();
    const b = await db.origin.create({ slug: 'b', title: 'B' });
    await stood.untilSome((c) => c.contentId === b.id);
    await standby.stop();
    expect(stood.changes.map((c) => c.contentId)).toEqual([b.id]); // `a` was acknowledged by the leader
    expect(led.changes.map((c) => c.contentId)).toEqual([a.id]);
  });

  it('reconnects after the server ends its replication connection, and loses nothing', async () => {
    const db = await freshDatabase();
    const feed = db.newFeed({ retryMs: 20 });
    const got = collector();
    await feed.start(got.handler);
    const a = await db.origin.create({ slug: 'a', title: 'A' });
    await got.until(1);

    const { rows } = await db.sql.query<{ ended: boolean }>(
      'SELECT pg_terminate_backend(active_pid) AS ended FROM pg_replication_slots WHERE slot_name = $1',
      [db.slotName],
    );
    expect(rows[0]?.ended).toBe(true);
    const b = await db.origin.create({ slug: 'b', title: 'B' }); // committed while disconnected
    await got.untilSome((c) => c.contentId === b.id);
    await feed.stop();

    expect(db.errors.length).toBeGreaterThan(0); // the lost connection was reported, not thrown
    // At least once: `a` may come again if its acknowledgement was lost with the connection.
    expect(new Set(got.changes.map((c) => c.contentId))).toEqual(new Set([a.id, b.id]));
  });
});

describe('WalFeed when PostgreSQL is killed (-9) and started again', () => {
  it('reconnects, resumes from its slot and loses nothing committed before or after the crash', async () => {
    const db = await freshDatabase();
    const feed = db.newFeed({ retryMs: 20, maxRetryMs: 500 });
    const got = collector();
    await feed.start(got.handler);
    const a = await db.origin.create({ slug: 'a', title: 'A' });
    await got.untilSome((c) => c.contentId === a.id);
    const b = await db.origin.create({ slug: 'b', title: 'B' }); // may still be on its way when the server dies

    await postgres().kill();
    await postgres().start();
    const c = await db.origin.create({ slug: 'c', title: 'C' });
    await got.untilSome((change) => change.contentId === c.id);
    await got.untilSome((change) => change.contentId === b.id);
    await feed.stop();

    expect(db.errors.length).toBeGreaterThan(0); // the lost stream was reported, not thrown
    // At least once: the slot may hand a change out again if its confirmation died with the server.
    expect(new Set(got.changes.map((change) => change.contentId))).toEqual(new Set([a.id, b.id, c.id]));
  });
});
