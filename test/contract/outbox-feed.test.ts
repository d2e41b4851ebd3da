import fc from 'fast-check';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { OutboxFeed } from '../../packages/freshcache/src/adapters/postgres/outbox-feed.js';
import type { OutboxFeedOptions } from '../../packages/freshcache/src/adapters/postgres/outbox-feed.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { installOutbox, missingOutboxTriggers, outboxInstallSql, outboxUninstallSql } from '../../packages/freshcache/src/adapters/postgres/outbox-install.js';
import { createPgClient } from '../../packages/freshcache/src/adapters/postgres/pg-client.js';
import type { SqlClient } from '../../packages/freshcache/src/adapters/postgres/sql-client.js';
import type { RowChange } from '../../packages/freshcache/src/seams/row-change.js';
import { CONTRACT_SCHEMA, CONTRACT_TABLES, changeCollector, changeFeedContract } from '../../packages/freshcache/src/testing/change-feed-contract.js';
import { postgresForFile } from '../testkit/postgres-server.js';
import { testSqlClient } from '../testkit/test-topology.js';

/**
 * Outbox capture of any tables: the ChangeFeed contract and the outbox's own behaviour, on PGlite
 * (the embedded origin) and on a real PostgreSQL this file starts, a database per test.
 */
const postgres = postgresForFile();
let databases = 0;

interface Database {
  sql: SqlClient;
  /** Runs a script (several statements, a transaction) as psql would. */
  execute(text: string, params?: unknown[]): Promise<void>;
  count(table?: string): Promise<number>;
  url?: string;
}

const backends: [string, () => Promise<Database>][] = [
  [
    'PGlite',
    async () => {
      const sql = await testSqlClient();
      const execute = async (text: string, params?: unknown[]) => {
        if (params) await sql.query(text, params);
        else await sql.db.exec(text);
      };
      return { sql, execute, count: (table) => countOf(sql, table) };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      const url = await postgres().createDatabase(`o${++databases}`);
      const sql = await createPgClient({ connectionString: url });
      onTestFinished(() => sql.close());
      // Without params pg uses the simple protocol: several statements in one call, as psql.
      const execute = async (text: string, params?: unknown[]) => void (await sql.query(text, params));
      return { sql, execute, count: (table) => countOf(sql, table), url };
    },
  ],
];

/** Rows left in the outbox (of one table). */
async function countOf(sql: SqlClient, table?: string): Promise<number> {
  const { rows } = await sql.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM freshcache.outbox${table ? ' WHERE table_name = $1' : ''}`,
    table ? [table] : [],
  );
  return Number(rows[0]!.n);
}

/** A feed stopped when the test ends. */
function feedOn(sql: SqlClient, tables: readonly string[], options: Partial<OutboxFeedOptions> = {}) {
  const feed = new OutboxFeed({ sql, tables, ...options });
  onTestFinished(() => feed.stop());
  return feed;
}

for (const [name, open] of backends) {
  changeFeedContract(`OutboxFeed on ${name}`, async () => {
    const db = await open();
    return {
      execute: db.execute,
      newFeed: async (tables) => {
        await installOutbox(db.sql, tables);
        return feedOn(db.sql, tables);
      },
    };
  });

  describe(`OutboxFeed on ${name}`, () => {
    const setUp = async () => {
      const db = await open();
      await db.execute(CONTRACT_SCHEMA);
      return db;
    };

    it('installs idempotently: twice leaves one pair of triggers per table, and a change is recorded once', async () => {
      const db = await setUp();
      await installOutbox(db.sql, CONTRACT_TABLES);
      await db.execute(outboxInstallSql(CONTRACT_TABLES));
      await installOutbox(db.sql, CONTRACT_TABLES);
      const { rows } = await db.sql.query<{ table: string; tgname: string }>(
        `SELECT c.relname AS table, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          WHERE NOT t.tgisinternal ORDER BY 1, 2`,
      );
      expect(rows.filter((r) => r.tgname.startsWith('freshcache_'))).toEqual(
        ['memberships', 'orgs', 'users'].flatMap((table) => [
          { table, tgname: 'freshcache_capture' },
          { table, tgname: 'freshcache_capture_truncate' },
        ]),
      );
      await db.execute(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
      expect(await db.count()).toBe(1);
    });

    it('refuses to start while a captured table lacks its triggers, naming it and the install command', async () => {
      const db = await setUp();
      await installOutbox(db.sql, ['users']);
      const feed = feedOn(db.sql, ['users', 'orgs']);
      await expect(feed.start(changeCollector().sink)).rejects.toThrow(/public\.orgs has no freshcache capture triggers.*freshcache capture install --config FILE/);
      // A disabled trigger records nothing either.
      await db.execute('ALTER TABLE users DISABLE TRIGGER freshcache_capture');
      expect(await missingOutboxTriggers(db.sql, ['users', 'orgs'])).toEqual(['public.users', 'public.orgs']);
    });

    it('uninstalled, records no more changes of those tables, and a feed refuses them', async () => {
      const db = await setUp();
      await installOutbox(db.sql, CONTRACT_TABLES);
      await db.execute(outboxUninstallSql(['users']));
      await db.execute(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
      await db.execute(`TRUNCATE users`);
      await db.execute(`INSERT INTO orgs (id, name) VALUES (3, 'acme')`);
      expect(await db.count('public.users')).toBe(0);
      expect(await db.count('public.orgs')).toBe(1); // the other tables' triggers stay
      expect(await missingOutboxTriggers(db.sql, CONTRACT_TABLES)).toEqual(['public.users']);
      await expect(feedOn(db.sql, ['users']).start(changeCollector().sink)).rejects.toThrow(/public\.users has no freshcache capture triggers/);

      await db.execute(outboxUninstallSql(CONTRACT_TABLES, { everything: true }));
      const { rows } = await db.sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'freshcache'`);
      expect(rows).toEqual([]);
    });

    it('leaves the rows of tables it does not capture in the outbox, for a feed of those tables to deliver', async () => {
      const db = await setUp();
      await installOutbox(db.sql, CONTRACT_TABLES);
      const feed = feedOn(db.sql, ['users']);
      const got = changeCollector();
      await feed.start(got.sink);
      await db.execute(`INSERT INTO orgs (id, name) VALUES (3, 'acme')`);
      await db.execute(`BEGIN;
        INSERT INTO orgs (id, name) VALUES (4, 'initech');
        INSERT INTO users (id, org_id, name) VALUES (1, 4, 'ada');
        COMMIT;`);
      await got.count(1);
      await feed.stop(); // waits for the drain, deletions included
      expect(got.changes.map((c) => c.table)).toEqual(['public.users']);
      expect(await db.count('public.users')).toBe(0);
      expect(await db.count('public.orgs')).toBe(2);

      // A relay rolled out later to rules that name orgs (or another relay group) still gets them.
      const later = feedOn(db.sql, ['orgs']);
      const orgs = changeCollector();
      await later.start(orgs.sink);
      await orgs.count(2);
      expect(orgs.changes.map((c) => c.new?.id)).toEqual([3, 4]);
      await later.stop();
      expect(await db.count()).toBe(0);
    });

    it('stopped while it checks its triggers, stays stopped: no listener, no poll', async () => {
      const db = await setUp();
      await installOutbox(db.sql, CONTRACT_TABLES);
      let listening = 0;
      const sql: SqlClient = {
        query: (text, params) => db.sql.query(text, params),
        listen: async (channel, onNotify) => {
          const unlisten = await db.sql.listen(channel, onNotify);
          listening++;
          return async () => {
            listening--;
            await unlisten();
          };
        },
        close: () => db.sql.close(),
      };
      const clock = new ManualClock();
      const feed = feedOn(sql, CONTRACT_TABLES, { clock });
      const started = feed.start(changeCollector().sink);
      await feed.stop();
      await started;
      expect(listening).toBe(0);
      expect(clock.pending).toBe(0);
    });

    it('is woken by the NOTIFY of a change, without waiting for its poll', async () => {
      const db = await setUp();
      await installOutbox(db.sql, CONTRACT_TABLES);
      const feed = feedOn(db.sql, CONTRACT_TABLES, { pollMs: 3_600_000 });
      const got = changeCollector();
      await feed.start(got.sink);
      await db.execute(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
      await got.count(1);
      expect(got.changes[0]!.new).toEqual({ id: 1, org_id: 3, name: 'ada' });
    });

    it('reports integers beyond 2^53 and numeric values exactly, as text', async () => {
      const db = await setUp();
      await db.execute('CREATE TABLE ledger (id bigint PRIMARY KEY, amount numeric, note text)');
      await installOutbox(db.sql, ['ledger']);
      const feed = feedOn(db.sql, ['ledger']);
      const got = changeCollector();
      await feed.start(got.sink);
      await db.execute(`INSERT INTO ledger (id, amount, note) VALUES (9007199254740993, 1.50, 'say "12345678901234567890"')`);
      await got.count(1);
      expect(got.changes[0]!.new).toEqual({ id: '9007199254740993', amount: '1.50', note: 'say "12345678901234567890"' });
    });

    it('hands over a transaction larger than its batch in one call', async () => {
      const db = await setUp();
      await installOutbox(db.sql, CONTRACT_TABLES);
      const feed = feedOn(db.sql, CONTRACT_TABLES, { batchSize: 2 });
      const batches: number[] = [];
      const got = changeCollector();
      await feed.start({ ...got.sink, changes: async (batch) => (batches.push(batch.length), got.sink.changes(batch)) });
      await db.execute(`BEGIN;
        INSERT INTO orgs (id, name) VALUES (3, 'acme');
        INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada');
        INSERT INTO users (id, org_id, name) VALUES (2, 3, 'bob');
        COMMIT;`);
      await got.count(3);
      expect(batches).toEqual([3]);
    });
  });
}

describe('OutboxFeed on PostgreSQL, with an application role', () => {
  /** A database with the contract's tables and outbox capture installed by the superuser, and a login role. */
  const setUp = async () => {
    const url = await postgres().createDatabase(`o${++databases}`);
    const sql = await createPgClient({ connectionString: url });
    onTestFinished(() => sql.close());
    const role = `app_o${databases}`;
    await sql.query(CONTRACT_SCHEMA);
    await sql.query(`CREATE ROLE ${role} LOGIN`);
    const connect = async () => {
      const client = new pg.Client({ connectionString: url.replace('postgres@', `${role}@`) });
      await client.connect();
      onTestFinished(() => client.end());
      return client;
    };
    return { sql, role, connect };
  };

  it("records the changes of a role that has no privilege on freshcache's schema", async () => {
    const { sql, role, connect } = await setUp();
    await installOutbox(sql, CONTRACT_TABLES);
    await sql.query(`GRANT ALL ON users TO ${role}`);
    const app = await connect();
    // Through the install's grants to PUBLIC: the triggers run as this role.
    await app.query(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
    await app.query(`TRUNCATE users`);
    expect(await countOf(sql, 'public.users')).toBe(2);
  });

  it("runs a table owner's cast to json as the role that writes, not as the superuser that installed capture", async () => {
    const { sql, role, connect } = await setUp();
    await sql.query(`CREATE SCHEMA owned AUTHORIZATION ${role}`);
    const owner = await connect();
    // to_jsonb(NEW) calls this cast: under SECURITY DEFINER it would run as the installer.
    await owner.query(`CREATE TYPE owned.mood AS ENUM ('calm');
      CREATE FUNCTION owned.mood_json(owned.mood) RETURNS json LANGUAGE sql AS $$ SELECT to_json(current_user::text) $$;
      CREATE CAST (owned.mood AS json) WITH FUNCTION owned.mood_json(owned.mood);
      CREATE TABLE owned.notes (id int PRIMARY KEY, mood owned.mood)`);
    await installOutbox(sql, ['owned.notes']);
    await owner.query(`INSERT INTO owned.notes (id, mood) VALUES (1, 'calm')`);
    const { rows } = await sql.query<{ mood: string }>(`SELECT new->>'mood' AS mood FROM freshcache.outbox`);
    expect(rows).toEqual([{ mood: role }]);
    const functions = await sql.query<{ proname: string; prosecdef: boolean }>(
      `SELECT proname, prosecdef FROM pg_proc WHERE pronamespace = 'freshcache'::regnamespace ORDER BY 1`,
    );
    expect(functions.rows).toEqual([
      { proname: 'capture_row', prosecdef: false },
      { proname: 'capture_truncate', prosecdef: false },
    ]);
  });
});

describe('OutboxFeed on PostgreSQL with concurrent writers', () => {
  it('relays a change whose transaction took a lower outbox id but committed last', async () => {
    const url = await postgres().createDatabase(`o${++databases}`);
    const sql = await createPgClient({ connectionString: url });
    onTestFinished(() => sql.close());
    await sql.query(CONTRACT_SCHEMA);
    await installOutbox(sql, CONTRACT_TABLES);
    await sql.query(`INSERT INTO users (id, org_id, name) VALUES (1, NULL, 'a'), (2, NULL, 'b')`);
    const feed = feedOn(sql, CONTRACT_TABLES, { pollMs: 60_000 });
    const got = changeCollector();
    await feed.start(got.sink);
    await got.count(2);

    const slow = await sql.pool.connect();
    onTestFinished(() => slow.release());
    await slow.query('BEGIN');
    await slow.query(`UPDATE users SET name = 'a2' WHERE id = 1`); // takes the lower outbox id
    await sql.query(`UPDATE users SET name = 'b2' WHERE id = 2`); // takes a higher id and commits first
    const updated = (id: number) => got.changes.some((c) => c.op === 'update' && c.new?.id === id);
    await got.until(() => updated(2));
    await slow.query('COMMIT');
    await got.until(() => updated(1));
    const updates = got.changes.filter((c) => c.op === 'update');
    expect(updates.map((c) => c.new?.id)).toEqual([2, 1]);
    expect(updates[1]!.position).toBeLessThan(updates[0]!.position);
  });
});

describe('OutboxFeed on PostgreSQL, reading after the last id', () => {
  /** A database with capture installed and `clients` connections of its own, each able to hold a transaction open. */
  const setUp = async (clients: number) => {
    const url = await postgres().createDatabase(`o${++databases}`);
    const sql = await createPgClient({ connectionString: url, max: clients + 2 });
    onTestFinished(() => sql.close());
    await sql.query(CONTRACT_SCHEMA);
    await installOutbox(sql, CONTRACT_TABLES);
    const writers = await Promise.all(Array.from({ length: clients }, () => sql.pool.connect()));
    onTestFinished(() => writers.forEach((writer) => writer.release()));
    return { sql, writers };
  };
  const inserted = (changes: RowChange[]) => changes.filter((c) => c.op === 'insert').map((c) => Number(c.new!.id)).sort((a, b) => a - b);

  it('leaves for the next read the rows of another transaction that a whole transaction reached past', async () => {
    const { sql, writers } = await setUp(2);
    const [a, b] = writers as [pg.PoolClient, pg.PoolClient];
    await a.query('BEGIN');
    await a.query(`INSERT INTO users (id, name) VALUES (1, 'a')`); // outbox id 1
    await b.query(`INSERT INTO users (id, name) VALUES (2, 'b')`); // id 2, committed at once
    await a.query(`INSERT INTO users (id, name) VALUES (3, 'a')`); // id 3
    await a.query('COMMIT');
    // A batch of one row grows to A's whole transaction (ids 1 and 3), past B's id 2.
    const feed = feedOn(sql, CONTRACT_TABLES, { batchSize: 1, pollMs: 60_000 });
    const batches: number[][] = [];
    const got = changeCollector();
    await feed.start({ ...got.sink, changes: async (batch) => (batches.push(batch.map((c) => Number(c.new!.id))), got.sink.changes(batch)) });
    await got.count(3);
    expect(batches).toEqual([[1, 3], [2]]);
  });

  it('relays a transaction still in progress whose transaction id is newer than every finished one (a snapshot lists only those below its xmax)', async () => {
    const { sql, writers } = await setUp(2);
    const [w, t] = writers as [pg.PoolClient, pg.PoolClient];
    await w.query('BEGIN');
    await w.query('INSERT INTO untracked (id) VALUES (1)'); // W takes its transaction id first
    await t.query('BEGIN');
    await t.query(`INSERT INTO users (id, name) VALUES (1, 't')`); // T: a newer transaction id, outbox id 1
    await w.query(`INSERT INTO users (id, name) VALUES (2, 'w')`); // W: outbox id 2
    await w.query('COMMIT'); // every finished transaction is now older than T
    const feed = feedOn(sql, CONTRACT_TABLES, { pollMs: 60_000 });
    const got = changeCollector();
    await feed.start(got.sink);
    await got.count(1);
    await t.query('COMMIT');
    await got.count(2);
    expect(inserted(got.changes)).toEqual([1, 2]);
  });

  it('started again, reads the whole outbox once: ids that went back while it was stopped (a restored database) are not below its last id', async () => {
    const { sql } = await setUp(0);
    const feed = feedOn(sql, CONTRACT_TABLES, { pollMs: 60_000 });
    const got = changeCollector();
    await feed.start(got.sink);
    for (let id = 1; id <= 5; id++) await sql.query(`INSERT INTO users (id, name) VALUES ($1, 'u')`, [id]);
    await got.count(5);
    await feed.stop();
    // As a restore to an earlier point leaves it: a row numbered low, by an old transaction.
    await sql.query(`INSERT INTO freshcache.outbox (id, txid, table_name, op, new) VALUES (1, 3, 'public.users', 'insert', '{"id": 6, "name": "restored"}')`);
    await feed.start(got.sink);
    await got.count(6);
    expect(inserted(got.changes)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('running, notices the ids went back (a database restored to an earlier point under it) and reads the whole outbox again', async () => {
    const { sql } = await setUp(0);
    const feed = feedOn(sql, CONTRACT_TABLES, { pollMs: 60_000 });
    const got = changeCollector();
    await feed.start(got.sink);
    for (let id = 1; id <= 5; id++) await sql.query(`INSERT INTO users (id, name) VALUES ($1, 'u')`, [id]);
    await got.count(5);
    await expect.poll(() => countOf(sql)).toBe(0); // handed over, then deleted
    // As a restore leaves it: the sequence back at 2, and a row numbered 2 (below the 5 read) by a
    // transaction whose id went back too (below those the feed saw in progress), then a NOTIFY.
    await sql.query(`SELECT setval('freshcache.outbox_id_seq', 2)`);
    await sql.query(`INSERT INTO freshcache.outbox (id, txid, table_name, op, new) VALUES (2, 3, 'public.users', 'insert', '{"id": 6, "name": "after the restore"}')`);
    await sql.query(`SELECT pg_notify('freshcache_outbox', '')`);
    await got.count(6);
    expect(inserted(got.changes)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('after a read that failed, reads the whole outbox again: a database that came back as another may number rows below the last id read, its sequence already past it', async () => {
    const { sql } = await setUp(0);
    let failNext = false;
    const flaky: SqlClient = { ...sql, query: (text, params) => (failNext && !(failNext = false) ? Promise.reject(new Error('connection terminated')) : sql.query(text, params)) };
    const errors: unknown[] = [];
    const feed = feedOn(flaky, CONTRACT_TABLES, { pollMs: 60_000, onError: (error) => errors.push(error) });
    const got = changeCollector();
    await feed.start(got.sink);
    for (let id = 1; id <= 5; id++) await sql.query(`INSERT INTO users (id, name) VALUES ($1, 'u')`, [id]);
    await got.count(5);
    await expect.poll(() => countOf(sql)).toBe(0);
    failNext = true;
    await feed.wake();
    expect(errors).toHaveLength(1);
    // A row numbered 2, by a transaction below those seen in progress; the sequence is not behind.
    await sql.query(`INSERT INTO freshcache.outbox (id, txid, table_name, op, new) VALUES (2, 3, 'public.users', 'insert', '{"id": 6, "name": "after the outage"}')`);
    await feed.wake();
    await got.count(6);
    expect(inserted(got.changes)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('delivers every committed change of writers interleaved at random, with small batches, and none twice', async () => {
    const clients = 4;
    const { sql, writers } = await setUp(clients);
    await fc.assert(
      fc.asyncProperty(
        // Each step: a writer, and whether it commits (or inserts a row in its open transaction).
        fc.array(fc.record({ writer: fc.nat(clients - 1), commit: fc.boolean(), rollback: fc.nat(9) }), { minLength: 10, maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        async (steps, batchSize) => {
          // Each run starts empty, on the test's one database and connections (a database per run
          // would take seconds to create, and a pool per run would exhaust max_connections).
          await sql.query('TRUNCATE users');
          await sql.query('DELETE FROM freshcache.outbox');
          const feed = new OutboxFeed({ sql, tables: CONTRACT_TABLES, batchSize, pollMs: 60_000 });
          const got = changeCollector();
          await feed.start(got.sink);
          const open = writers.map(() => [] as number[]);
          const committed: number[] = [];
          let nextId = 1;
          for (const step of steps) {
            const writer = writers[step.writer]!;
            const rows = open[step.writer]!;
            if (step.commit && rows.length > 0) {
              // One in ten ends in a rollback: its rows must never be delivered.
              const keep = step.rollback !== 0;
              await writer.query(keep ? 'COMMIT' : 'ROLLBACK');
              if (keep) committed.push(...rows);
              rows.length = 0;
            } else {
              if (rows.length === 0) await writer.query('BEGIN');
              await writer.query(`INSERT INTO users (id, name) VALUES ($1, 'w')`, [nextId]);
              rows.push(nextId++);
            }
          }
          for (const [i, rows] of open.entries()) {
            if (rows.length === 0) continue;
            await writers[i]!.query('COMMIT');
            committed.push(...rows);
          }
          await got.until(() => inserted(got.changes).length >= committed.length);
          await feed.stop();
          expect(inserted(got.changes)).toEqual(committed.sort((x, y) => x - y));
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('installOutbox on PostgreSQL', () => {
  it('installs from several connections at once (a leader and its standby starting together)', async () => {
    const url = await postgres().createDatabase(`o${++databases}`);
    const sql = await createPgClient({ connectionString: url, max: 4 });
    onTestFinished(() => sql.close());
    await sql.query(CONTRACT_SCHEMA);
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => installOutbox(sql, CONTRACT_TABLES)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await missingOutboxTriggers(sql, CONTRACT_TABLES)).toEqual([]);
  });
});
