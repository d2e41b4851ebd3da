import { describe, expect, it } from 'vitest';
import type { ChangeFeed, ChangeSink } from '../seams/change-feed.js';
import type { Row, RowChange } from '../seams/row-change.js';

export interface FeedFixture {
  /** Runs SQL on the captured database, as an application, psql or a migration would. */
  execute(sql: string, params?: unknown[]): Promise<void>;
  /**
   * A new feed over the same database and durable position (a relay restart), capturing
   * `tables`. The fixture installs first whatever the feed needs (an outbox's triggers).
   */
  newFeed(tables: string[]): Promise<ChangeFeed>;
}

/**
 * The tables every feed is checked on: a plain table, one a row moves out of (users between
 * orgs), a composite key in another schema, and a table nobody captures. REPLICA IDENTITY FULL,
 * so that WAL capture sends whole old rows; feeds that see whole rows anyway (an outbox) ignore it.
 */
export const CONTRACT_SCHEMA = `
CREATE SCHEMA IF NOT EXISTS app;
CREATE TABLE IF NOT EXISTS orgs (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE IF NOT EXISTS users (id integer PRIMARY KEY, org_id integer, name text NOT NULL);
CREATE TABLE IF NOT EXISTS app.memberships (user_id integer, team text, role text NOT NULL, PRIMARY KEY (user_id, team));
CREATE TABLE IF NOT EXISTS untracked (id integer PRIMARY KEY);
ALTER TABLE orgs REPLICA IDENTITY FULL;
ALTER TABLE users REPLICA IDENTITY FULL;
ALTER TABLE app.memberships REPLICA IDENTITY FULL;
`;

export const CONTRACT_TABLES = ['public.orgs', 'public.users', 'app.memberships'];

/** Collects what a feed hands over; waits re-check whenever the feed delivers. */
export function changeCollector(fail = 0) {
  const changes: RowChange[] = [];
  const lost: string[] = [];
  let failures = fail;
  let waiters: (() => void)[] = [];
  const wake = () => {
    for (const waiter of waiters) waiter();
    waiters = [];
  };
  const sink: ChangeSink = {
    async changes(batch) {
      if (failures-- > 0) throw new Error('log unavailable');
      changes.push(...batch);
      wake();
    },
    async lost(reason) {
      lost.push(reason);
      wake();
    },
  };
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { changes, lost, sink, until, count: (n: number) => until(() => changes.length >= n) };
}

/** A row's values as text: drivers decode integers as numbers or strings, and templates render both alike. */
function text(row: Row | undefined): Record<string, string | null> | undefined {
  if (!row) return undefined;
  return Object.fromEntries(Object.entries(row).map(([column, value]) => [column, value === null ? null : String(value)]));
}

function summary(change: RowChange) {
  return { table: change.table, op: change.op, old: text(change.old), new: text(change.new) };
}

/** The contract every `ChangeFeed` keeps: the outbox's, the WAL's, and a user's own. */
export function changeFeedContract(name: string, make: () => Promise<FeedFixture>) {
  describe(`ChangeFeed contract: ${name}`, () => {
    const setUp = async () => {
      const fixture = await make();
      await fixture.execute(CONTRACT_SCHEMA);
      return fixture;
    };

    it('reports inserts, updates (a moved row with both rows) and deletes, with their rows, in commit order', async () => {
      const { execute, newFeed } = await setUp();
      const feed = await newFeed(CONTRACT_TABLES);
      const got = changeCollector();
      await feed.start(got.sink);
      await execute(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
      await execute(`UPDATE users SET org_id = 7 WHERE id = 1`);
      await execute(`DELETE FROM users WHERE id = 1`);
      await got.count(3);
      await feed.stop();
      expect(got.changes.map(summary)).toEqual([
        { table: 'public.users', op: 'insert', old: undefined, new: { id: '1', org_id: '3', name: 'ada' } },
        { table: 'public.users', op: 'update', old: { id: '1', org_id: '3', name: 'ada' }, new: { id: '1', org_id: '7', name: 'ada' } },
        { table: 'public.users', op: 'delete', old: { id: '1', org_id: '7', name: 'ada' }, new: undefined },
      ]);
      const positions = got.changes.map((c) => c.position);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      for (const change of got.changes) expect(Number.isFinite(change.committedAt)).toBe(true);
    });

    it('reports a composite key in another schema, and nothing of a table it does not capture', async () => {
      const { execute, newFeed } = await setUp();
      const feed = await newFeed(CONTRACT_TABLES);
      const got = changeCollector();
      await feed.start(got.sink);
      await execute(`INSERT INTO untracked (id) VALUES (1)`);
      await execute(`INSERT INTO app.memberships (user_id, team, role) VALUES (1, 'core', 'lead')`);
      await execute(`DELETE FROM app.memberships WHERE user_id = 1 AND team = 'core'`);
      await got.count(2);
      await execute(`INSERT INTO orgs (id, name) VALUES (9, 'marker')`); // the untracked change would come before it
      await got.count(3);
      await feed.stop();
      expect(got.changes.map(summary)).toEqual([
        { table: 'app.memberships', op: 'insert', old: undefined, new: { user_id: '1', team: 'core', role: 'lead' } },
        { table: 'app.memberships', op: 'delete', old: { user_id: '1', team: 'core', role: 'lead' }, new: undefined },
        { table: 'public.orgs', op: 'insert', old: undefined, new: { id: '9', name: 'marker' } },
      ]);
    });

    it('reports a transaction that touches several tables as its changes in order, with one commit', async () => {
      const { execute, newFeed } = await setUp();
      const feed = await newFeed(CONTRACT_TABLES);
      const got = changeCollector();
      await feed.start(got.sink);
      await execute(`BEGIN;
        INSERT INTO orgs (id, name) VALUES (3, 'acme');
        INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada');
        INSERT INTO app.memberships (user_id, team, role) VALUES (1, 'core', 'lead');
        COMMIT;`);
      await got.count(3);
      await feed.stop();
      expect(got.changes.map((c) => c.table)).toEqual(['public.orgs', 'public.users', 'app.memberships']);
      const [first] = got.changes;
      for (const change of got.changes) {
        expect(change.txid).toBe(first!.txid);
        expect(change.committedAt).toBe(first!.committedAt);
      }
    });

    it('reports a truncate once per captured table, with no rows', async () => {
      const { execute, newFeed } = await setUp();
      const feed = await newFeed(CONTRACT_TABLES);
      const got = changeCollector();
      await feed.start(got.sink);
      await execute(`INSERT INTO orgs (id, name) VALUES (3, 'acme')`);
      await execute(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
      await execute(`TRUNCATE users, orgs, untracked`);
      await got.count(4);
      await feed.stop();
      const truncates = got.changes.slice(2);
      expect(truncates.map((c) => c.op)).toEqual(['truncate', 'truncate']);
      expect(truncates.map((c) => c.table).sort()).toEqual(['public.orgs', 'public.users']);
      for (const change of truncates) {
        expect(change.old).toBeUndefined();
        expect(change.new).toBeUndefined();
      }
    });

    it('redelivers changes whose handler failed, and loses none', async () => {
      const { execute, newFeed } = await setUp();
      const feed = await newFeed(CONTRACT_TABLES);
      const got = changeCollector(1);
      await feed.start(got.sink);
      await execute(`INSERT INTO users (id, org_id, name) VALUES (1, NULL, 'a')`);
      await execute(`INSERT INTO users (id, org_id, name) VALUES (2, NULL, 'b')`); // a later change wakes the feed again
      await got.count(2);
      await feed.stop();
      expect(got.changes.map((c) => [c.op, String(c.new?.id)])).toEqual([
        ['insert', '1'],
        ['insert', '2'],
      ]);
    });

    it('resumes after a restart from its durable position: nothing lost, nothing acknowledged repeated', async () => {
      const { execute, newFeed } = await setUp();
      const first = await newFeed(CONTRACT_TABLES);
      const before = changeCollector();
      await first.start(before.sink);
      await execute(`INSERT INTO users (id, org_id, name) VALUES (1, NULL, 'a')`);
      await before.count(1);
      await first.stop();

      // Changes made while no relay runs.
      await execute(`INSERT INTO users (id, org_id, name) VALUES (2, NULL, 'b')`);
      await execute(`UPDATE users SET name = 'while down' WHERE id = 1`);

      const second = await newFeed(CONTRACT_TABLES);
      const after = changeCollector();
      await second.start(after.sink);
      await after.count(2);
      await second.stop();
      expect(after.changes.map((c) => [c.op, String(c.new?.id)])).toEqual([
        ['insert', '2'],
        ['update', '1'],
      ]);
      expect(after.changes[0]!.position).toBeGreaterThan(before.changes[0]!.position);
      expect(before.lost).toEqual([]);
      expect(after.lost).toEqual([]);
    });
  });
}
