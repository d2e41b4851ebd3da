import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MemoryLog } from '../../packages/freshcache/src/adapters/memory/memory-log.js';
import { installOutbox } from '../../packages/freshcache/src/adapters/postgres/outbox-install.js';
import { createPgClient } from '../../packages/freshcache/src/adapters/postgres/pg-client.js';
import { postgresCapture } from '../../packages/freshcache/src/adapters/postgres/postgres-capture.js';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { LogFollower } from '../../packages/freshcache/src/engine/log-follower.js';
import type { LoadContext } from '../../packages/freshcache/src/engine/tiered-cache.js';
import type { InvalidationEvent } from '../../packages/freshcache/src/seams/invalidation-log.js';
import { CONTRACT_SCHEMA } from '../../packages/freshcache/src/testing/change-feed-contract.js';
import { capture } from '../../packages/freshcache-server/src/cli/commands/capture.js';
import { Relay } from '../../packages/freshcache-server/src/topology/relay.js';
import { configFilesForFile } from '../testkit/cli-process.js';
import { postgresForFile } from '../testkit/postgres-server.js';

/** users' version column `rev`, which the contract's tables do not have: the install adds it. */
const RULES = [
  { table: 'users', key: 'user:{id}', tags: ['org:{org_id}'], version: 'rev' },
  { table: 'orgs', key: 'org:{id}' },
];

describe('freshcache capture install --version-columns', () => {
  const postgres = postgresForFile();
  const files = configFilesForFile('freshcache-version-');
  let databases = 0;
  let configs = 0;

  /** A database with the contract's tables, a client on it, and a config file naming it. */
  const database = async (kind: 'wal' | 'outbox', rules: object[] = RULES) => {
    const url = await postgres().createDatabase(`v${++databases}`);
    const sql = await createPgClient({ connectionString: url });
    onTestFinished(() => sql.close());
    await sql.query(CONTRACT_SCHEMA);
    const file = await files.write(`config-${++configs}.json`, JSON.stringify({ origin: { kind: 'postgres', url }, capture: { kind, rules } }));
    return { url, sql, file };
  };
  /** The command in-process: what it printed, or its error. */
  const run = async (argv: string[]) => {
    const printed: string[] = [];
    await capture(argv, { print: (text) => printed.push(text), env: {} });
    return printed.join('\n');
  };
  const revs = async (sql: { query: <R>(text: string) => Promise<{ rows: R[] }> }, table = 'users') =>
    (await sql.query<{ id: number; rev: string }>(`SELECT id, rev::text AS rev FROM ${table} ORDER BY id`)).rows.map((row) => [row.id, Number(row.rev)]);

  it('for WAL capture prints SQL that, run as psql runs it, adds the column (0 for existing rows) and bumps it on every INSERT and UPDATE, one that leaves it alone included', async () => {
    const { url, sql, file } = await database('wal');
    await sql.query(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada'), (2, 3, 'bob')`);
    const printed = await run(['install', '--config', file, '--version-columns']);
    expect(printed).not.toMatch(/outbox/); // WAL capture needs no outbox: only the version part
    expect(await revs(sql).catch((error: Error) => error.message)).toMatch(/column "rev" does not exist/); // printed, not applied

    const psql = new pg.Client({ connectionString: url });
    await psql.connect();
    onTestFinished(() => psql.end());
    await psql.query(printed);
    expect(await revs(sql)).toEqual([[1, 0], [2, 0]]);
    const { rows } = await sql.query<{ nullable: string; type: string }>(
      `SELECT is_nullable AS nullable, data_type AS type FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'rev'`,
    );
    expect(rows).toEqual([{ nullable: 'NO', type: 'bigint' }]);

    // Edits that never name the column, as a psql session or a migration makes them.
    await psql.query(`UPDATE users SET name = 'ada l.' WHERE id = 1`);
    await psql.query(`UPDATE users SET org_id = 7`);
    await psql.query(`INSERT INTO users (id, org_id, name) VALUES (3, 7, 'cy')`);
    expect(await revs(sql)).toEqual([[1, 2], [2, 1], [3, 1]]);
    // The database owns the column: a write that sets it is bumped all the same, an upsert too.
    await psql.query(`UPDATE users SET rev = 0, name = 'bo' WHERE id = 2`);
    await psql.query(`INSERT INTO users (id, org_id, name) VALUES (3, 7, 'cyd') ON CONFLICT (id) DO UPDATE SET name = excluded.name`);
    expect(await revs(sql)).toEqual([[1, 2], [2, 2], [3, 2]]);
  });

  it('bumps the writes of a role that may only write the table: the function runs as the writer (SECURITY INVOKER), with no grant on its schema', async () => {
    const { url, sql, file } = await database('wal');
    await run(['install', '--config', file, '--apply', '--version-columns']);
    const role = `writer_v${databases}`;
    await sql.query(`CREATE ROLE ${role}; GRANT SELECT, INSERT, UPDATE ON users TO ${role}`);
    onTestFinished(async () => {
      await sql.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    });
    const writer = new pg.Client({ connectionString: url });
    await writer.connect();
    onTestFinished(() => writer.end());
    await writer.query(`SET ROLE ${role}`);
    await writer.query(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
    await writer.query(`UPDATE users SET name = 'ada l.'`);
    expect(await revs(sql)).toEqual([[1, 2]]);
    const { rows } = await sql.query(`SELECT proname, prosecdef FROM pg_proc WHERE pronamespace = 'freshcache'::regnamespace`);
    expect(rows).toEqual([{ proname: 'bump_rev', prosecdef: false }]);
  });

  it('installOutbox (the library\'s install, one statement) adds the version columns it is given, twice harmlessly', async () => {
    const { sql } = await database('outbox');
    const versionColumns = [{ table: 'public.users', column: 'rev' }];
    await installOutbox(sql, ['users'], { versionColumns });
    await installOutbox(sql, ['users'], { versionColumns });
    await sql.query(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
    await sql.query(`UPDATE users SET name = 'ada l.'`);
    expect(await revs(sql)).toEqual([[1, 2]]);
  });

  it('--apply twice changes nothing the first did not; an existing integer column is kept, another type refused before anything is applied', async () => {
    const { sql, file } = await database('outbox');
    expect(await run(['install', '--config', file, '--apply', '--version-columns'])).toMatch(/installed the version triggers of public\.users\.rev/);
    await sql.query(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
    await sql.query(`UPDATE users SET name = 'ada l.'`);
    await run(['install', '--config', file, '--apply', '--version-columns']);
    await sql.query(`UPDATE users SET name = 'ada lovelace'`);
    expect(await revs(sql)).toEqual([[1, 3]]); // one trigger: bumped once per write, and nothing reset
    const triggers = await sql.query<{ name: string }>(`SELECT tgname AS name FROM pg_trigger WHERE tgrelid = 'public.users'::regclass AND NOT tgisinternal ORDER BY 1`);
    expect(triggers.rows.map((row) => row.name)).toEqual(['freshcache_bump_rev', 'freshcache_capture', 'freshcache_capture_truncate']);

    // A column of the application's own that is an integer is bumped from its value on.
    const own = await database('outbox', [{ table: 'orgs', key: 'org:{id}', version: 'lock_version' }]);
    await own.sql.query(`ALTER TABLE orgs ADD COLUMN lock_version integer NOT NULL DEFAULT 5; INSERT INTO orgs (id, name) VALUES (1, 'acme')`);
    await run(['install', '--config', own.file, '--apply', '--version-columns']);
    await own.sql.query(`UPDATE orgs SET name = 'acme inc'`);
    expect((await own.sql.query<{ v: number }>('SELECT lock_version AS v FROM orgs')).rows).toEqual([{ v: 6 }]);

    // updated_at is no version: the trigger would fail every write, so nothing is applied.
    const dated = await database('outbox', [{ table: 'orgs', key: 'org:{id}', version: 'updated_at' }]);
    await dated.sql.query(`ALTER TABLE orgs ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(); INSERT INTO orgs (id, name) VALUES (1, 'acme')`);
    await expect(run(['install', '--config', dated.file, '--apply', '--version-columns'])).rejects.toThrow(
      /column updated_at of public\.orgs is timestamp with time zone, not a version/,
    );
    expect((await dated.sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'freshcache'`)).rows).toEqual([]);
    await dated.sql.query(`UPDATE orgs SET name = 'acme inc'`); // writes still work
  });

  it('--version-columns without a rule naming a version column is refused, before connecting', async () => {
    const file = await files.write('unversioned.json', JSON.stringify({ capture: { kind: 'outbox', rules: [{ table: 'orgs', key: 'org:{id}' }] } }));
    await expect(run(['install', '--config', file, '--version-columns'])).rejects.toThrow(/--version-columns: no capture rule of .* names a version column/);
  });

  it('without the flag, --apply refuses a missing version column saying what adds it, and warns about a column nothing bumps', async () => {
    const { sql, file } = await database('outbox');
    await expect(run(['install', '--config', file, '--apply'])).rejects.toThrow(/no column rev .*--version-columns adds/);
    await sql.query('ALTER TABLE users ADD COLUMN rev bigint NOT NULL DEFAULT 0');
    expect(await run(['install', '--config', file, '--apply'])).toMatch(
      /warning: Capture rules on table public\.users read column rev as the row's version, and no trigger bumps it .*capture install --version-columns/,
    );
    expect(await run(['install', '--config', file, '--apply', '--version-columns'])).not.toMatch(/warning/);
  });

  it('the relay warns, without refusing, about a version column no trigger bumps; not once freshcache\'s or the application\'s own trigger bumps it', async () => {
    const { sql, file } = await database('outbox');
    await sql.query('ALTER TABLE users ADD COLUMN rev bigint NOT NULL DEFAULT 0');
    await run(['install', '--config', file, '--apply']);
    const warnings = async () => {
      const said: string[] = [];
      await postgresCapture({ sql, rules: RULES, kind: 'outbox', onWarning: (message) => said.push(message) });
      return said;
    };
    expect(await warnings()).toEqual([expect.stringMatching(/^Capture rules on table public\.users read column rev as the row's version, and no trigger bumps it/)]);

    await run(['install', '--config', file, '--apply', '--version-columns']);
    expect(await warnings()).toEqual([]);
    await run(['uninstall', '--config', file, '--apply', '--version-columns']);
    expect(await warnings()).toHaveLength(1);
    await sql.query(`CREATE FUNCTION own_rev() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.rev := OLD.rev + 10; RETURN NEW; END $$;
      CREATE TRIGGER own_rev BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION own_rev()`);
    expect(await warnings()).toEqual([]);
  });

  it('uninstall --version-columns drops the trigger and keeps the column and its values', async () => {
    const { sql, file } = await database('wal');
    await run(['install', '--config', file, '--apply', '--version-columns']);
    await sql.query(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
    expect(await run(['uninstall', '--config', file, '--apply', '--version-columns'])).toMatch(/dropped the version triggers of public\.users\.rev \(the columns stay/);
    await sql.query(`UPDATE users SET name = 'ada l.'`);
    expect(await revs(sql)).toEqual([[1, 1]]);
    expect((await sql.query(`SELECT 1 FROM pg_trigger WHERE tgname = 'freshcache_bump_rev'`)).rows).toEqual([]);
    await run(['uninstall', '--config', file, '--apply', '--version-columns']); // again: harmless
  });

  it('outbox uninstall --everything keeps version triggers (WAL capture may still use them) and their schema; with --version-columns it drops them all', async () => {
    const { sql, file } = await database('outbox');
    await run(['install', '--config', file, '--apply', '--version-columns']);
    await run(['uninstall', '--config', file, '--apply', '--everything']);
    expect((await sql.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'freshcache'`)).rows).toEqual([]);
    await sql.query(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
    await sql.query(`UPDATE users SET name = 'ada l.'`);
    expect(await revs(sql)).toEqual([[1, 2]]);

    await run(['uninstall', '--config', file, '--apply', '--everything', '--version-columns']);
    expect((await sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'freshcache'`)).rows).toEqual([]);
    await sql.query(`UPDATE users SET name = 'ada lovelace'`);
    expect(await revs(sql)).toEqual([[1, 2]]);
  });

  it('end to end: a psql UPDATE that leaves the column alone reaches the caches with the version the trigger wrote; regions that already read it keep it (one load each for 500 reads)', async () => {
    const { url, sql, file } = await database('outbox');
    await sql.query(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
    await run(['install', '--config', file, '--apply', '--version-columns']);

    // Two edits in psql, each its own transaction; the relay is not running yet.
    const psql = new pg.Client({ connectionString: url });
    await psql.connect();
    onTestFinished(() => psql.end());
    await psql.query(`UPDATE users SET name = 'ada l.' WHERE id = 1`);
    await psql.query(`UPDATE users SET name = 'ada lovelace' WHERE id = 1`);

    let loads = 0;
    const loader = async (ctx: LoadContext) => {
      loads++;
      const { rows } = await sql.query<{ name: string; rev: string }>('SELECT name, rev::text AS rev FROM users WHERE id = 1');
      ctx.version = Number(rows[0]!.rev);
      return { name: rows[0]!.name };
    };
    const log = new MemoryLog();
    const regions = [];
    const applied: Promise<void>[] = [];
    for (const region of ['eu', 'us']) {
      const cache = createCache({ l2: 'memory' });
      let seen!: () => void;
      applied.push(new Promise<void>((resolve) => (seen = resolve)));
      const follower = new LogFollower({ cache, log, region, onApplied: (event: InvalidationEvent) => event.keyVersions?.['user:1'] === 2 && seen() });
      await follower.start();
      onTestFinished(() => follower.stop());
      regions.push(cache);
    }
    // Each region reads the new row before the events land.
    for (const cache of regions) expect(await cache.getOrLoad('user:1', loader)).toEqual({ name: 'ada lovelace' });
    expect(loads).toBe(2);

    const warnings: string[] = [];
    const captured = await postgresCapture({ sql, rules: RULES, kind: 'outbox', onWarning: (message) => warnings.push(message) });
    expect(warnings).toEqual([]);
    const events: InvalidationEvent[] = [];
    const relay = new Relay({ feed: captured.feed, log, map: captured.rules.map, onPublished: (event) => events.push(event) });
    await relay.start();
    onTestFinished(() => relay.stop());
    await Promise.all(applied);
    expect(events.map((event) => event.keyVersions)).toEqual([{ 'user:1': 1 }, { 'user:1': 2 }]);

    const reads = regions.flatMap((cache) => Array.from({ length: 500 }, () => cache.getOrLoad('user:1', loader)));
    for (const value of await Promise.all(reads)) expect(value).toEqual({ name: 'ada lovelace' });
    expect(loads).toBe(2);
  });
});
