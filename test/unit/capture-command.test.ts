import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { OutboxFeed } from '../../packages/freshcache/src/adapters/postgres/outbox-feed.js';
import { missingOutboxTriggers } from '../../packages/freshcache/src/adapters/postgres/outbox-install.js';
import { createPgClient } from '../../packages/freshcache/src/adapters/postgres/pg-client.js';
import { capture } from '../../packages/freshcache-server/src/cli/commands/capture.js';
import { CONTRACT_SCHEMA, CONTRACT_TABLES, changeCollector } from '../../packages/freshcache/src/testing/change-feed-contract.js';
import { configFilesForFile, runCli } from '../testkit/cli-process.js';
import { postgresForFile } from '../testkit/postgres-server.js';

const RULES = [
  { table: 'orgs', key: 'org:{id}' },
  { table: 'users', key: 'user:{id}', tags: ['org:{org_id}', 'users'] },
  { table: 'app.memberships', key: 'membership:{user_id}:{team}' },
];

describe('freshcache capture', () => {
  const postgres = postgresForFile();
  const files = configFilesForFile('freshcache-capture-');
  let databases = 0;

  /** A database with the contract's tables, and a client on it closed when the test ends. */
  const database = async () => {
    const url = await postgres().createDatabase(`c${++databases}`);
    const sql = await createPgClient({ connectionString: url });
    onTestFinished(() => sql.close());
    await sql.query(CONTRACT_SCHEMA);
    return { url, sql };
  };
  let files_ = 0;
  const configFile = (config: object) => files.write(`config-${++files_}.json`, JSON.stringify(config));
  /** The command in-process: what it printed, or its error. */
  const run = async (argv: string[]) => {
    const printed: string[] = [];
    await capture(argv, { print: (text) => printed.push(text), env: {} });
    return printed.join('\n');
  };
  /** The command in-process, expected to fail: what it printed first, and its error. */
  const runFailing = async (argv: string[]) => {
    const printed: string[] = [];
    const error = await capture(argv, { print: (text) => printed.push(text), env: {} }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(Error);
    return { printed: printed.join('\n'), message: (error as Error).message };
  };

  it('prints SQL only, which applied by psql makes outbox capture of the rule tables work (a real CLI process)', async () => {
    const help = runCli('--help', []);
    expect((await help.exit()).code).toBe(0);
    expect(help.stdout()).toMatch(/freshcache capture install\|uninstall --config FILE/);

    const { url, sql } = await database();
    const file = await configFile({ capture: { kind: 'outbox', rules: RULES } });
    const cli = runCli('capture', ['install', '--config', file]);
    expect(await cli.exit()).toEqual({ code: 0, signal: null });
    expect(cli.stderr()).toBe('');
    expect(await missingOutboxTriggers(sql, CONTRACT_TABLES)).toEqual(CONTRACT_TABLES); // printed, not applied

    // What a DBA does with it: psql -f, a single simple-protocol script.
    const psql = new pg.Client({ connectionString: url });
    await psql.connect();
    onTestFinished(() => psql.end());
    await psql.query(cli.stdout());

    const feed = new OutboxFeed({ sql, tables: CONTRACT_TABLES });
    onTestFinished(() => feed.stop());
    const got = changeCollector();
    await feed.start(got.sink);
    await psql.query(`INSERT INTO app.memberships (user_id, team, role) VALUES (1, 'core', 'lead')`);
    await got.count(1);
    expect(got.changes.map((c) => [c.table, c.op])).toEqual([['app.memberships', 'insert']]);
  });

  it('--apply installs on the origin, says so, and again changes nothing', async () => {
    const { url, sql } = await database();
    const file = await configFile({ origin: { kind: 'postgres', url }, capture: { kind: 'outbox', rules: RULES } });
    expect(await run(['install', '--config', file, '--apply'])).toMatch(/installed outbox capture .* on public\.orgs, public\.users, app\.memberships/);
    expect(await missingOutboxTriggers(sql, CONTRACT_TABLES)).toEqual([]);
    await run(['install', '--config', file, '--apply']);
    const { rows } = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM pg_trigger WHERE tgname LIKE 'freshcache_capture%'`);
    expect(Number(rows[0]!.n)).toBe(6);
  });

  it('--apply refuses a rule naming a column the table lacks, before applying anything', async () => {
    const { url, sql } = await database();
    const file = await configFile({ origin: { kind: 'postgres', url }, capture: { kind: 'outbox', rules: [{ table: 'users', key: 'user:{uid}' }] } });
    await expect(run(['install', '--config', file, '--apply'])).rejects.toThrow(/public\.users: the table has no column uid/);
    const { rows } = await sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'freshcache'`);
    expect(rows).toEqual([]);
  });

  it('--apply refuses a partitioned table, naming it, before applying anything', async () => {
    const { url, sql } = await database();
    await sql.query(`CREATE TABLE events (id int, day date, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
      CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`);
    const file = await configFile({ origin: { kind: 'postgres', url }, capture: { kind: 'outbox', rules: [{ table: 'events', key: 'event:{id}' }] } });
    await expect(run(['install', '--config', file, '--apply'])).rejects.toThrow(/public\.events is a partitioned table/);
    const { rows } = await sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'freshcache'`);
    expect(rows).toEqual([]);
  });

  it('uninstall --apply drops the triggers, so changes are no longer recorded', async () => {
    const { url, sql } = await database();
    const file = await configFile({ origin: { kind: 'postgres', url }, capture: { kind: 'outbox', rules: RULES } });
    await run(['install', '--config', file, '--apply']);
    expect(await run(['uninstall', '--config', file, '--apply'])).toMatch(/dropped the capture triggers on public\.orgs, public\.users, app\.memberships/);
    expect(await missingOutboxTriggers(sql, CONTRACT_TABLES)).toEqual(CONTRACT_TABLES);
    await sql.query(`INSERT INTO users (id, org_id, name) VALUES (1, 3, 'ada')`);
    const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM freshcache.outbox');
    expect(Number(rows[0]!.n)).toBe(0);
  });

  it('refuses a config without capture rules, and one that fails validation, with their messages', async () => {
    await expect(run(['install', '--config', await configFile({ capture: { kind: 'outbox' } })])).rejects.toThrow(/has no capture rules \(capture\.rules\)/);
    await expect(run(['install', '--config', await configFile({ capture: { kind: 'outbox', rules: [{ table: 'users', kee: 'u:{id}' }] } })])).rejects.toThrow(
      /is invalid: .*additional property "kee"/,
    );
    const cli = runCli('capture', ['install', '--config', await configFile({})]);
    expect((await cli.exit()).code).not.toBe(0);
    expect(cli.stderr()).toMatch(/has no capture rules/);
  });

  it('--replica-identity-full prints and applies ALTER TABLE ... REPLICA IDENTITY FULL; WAL capture otherwise installs nothing and names the tables that need it', async () => {
    const { url, sql } = await database();
    await sql.query('ALTER TABLE users REPLICA IDENTITY DEFAULT');
    const file = await configFile({ origin: { kind: 'postgres', url }, capture: { kind: 'wal', slot: 'my_slot', rules: RULES } });

    const printed = await run(['install', '--config', file, '--replica-identity-full']);
    expect(printed.split('\n').filter((line) => line.startsWith('ALTER'))).toEqual([
      'ALTER TABLE "public"."orgs" REPLICA IDENTITY FULL;',
      'ALTER TABLE "public"."users" REPLICA IDENTITY FULL;',
      'ALTER TABLE "app"."memberships" REPLICA IDENTITY FULL;',
    ]);
    expect(printed).not.toMatch(/TRIGGER/);

    // Without the flag: nothing applied, users (default identity: its key only) is named as the relay
    // would name it, and the command fails, since the relay would not start.
    const refused = await runFailing(['install', '--config', file, '--apply']);
    expect(refused.printed).toMatch(/Capture rules on table public\.users read column\(s\) org_id, which its replica identity \(default: id\) does not send/);
    expect(refused.message).toMatch(/WAL capture refuses this table: the relay will not start until it is fixed/);
    const identity = async () => (await sql.query<{ ident: string }>(`SELECT relreplident AS ident FROM pg_class WHERE oid = 'public.users'::regclass`)).rows[0]!.ident;
    expect(await identity()).toBe('d');
    expect(await run(['install', '--config', file, '--apply', '--replica-identity-full'])).toMatch(/set REPLICA IDENTITY FULL on public\.orgs, public\.users, app\.memberships/);
    expect(await identity()).toBe('f');

    expect(await run(['uninstall', '--config', file])).toMatch(/SELECT pg_drop_replication_slot\('my_slot'\)/);
  });

  it('--apply for WAL capture fails on a table without a primary key, saying so as the relay would', async () => {
    const { url, sql } = await database();
    await sql.query('CREATE TABLE events (name text)');
    const file = await configFile({ origin: { kind: 'postgres', url }, capture: { kind: 'wal', rules: [{ table: 'events', key: 'event:{name}' }] } });
    const refused = await runFailing(['install', '--config', file, '--apply']);
    expect(refused.printed).toMatch(/Table public\.events has no primary key/);
    expect(refused.message).toMatch(/WAL capture refuses this table/);
    // A real CLI process exits non-zero.
    const cli = runCli('capture', ['install', '--config', file, '--apply']);
    expect((await cli.exit()).code).not.toBe(0);
    expect(cli.stdout()).toMatch(/Table public\.events has no primary key/);
    // REPLICA IDENTITY FULL is what it asks for; with it the install succeeds.
    expect(await run(['install', '--config', file, '--apply', '--replica-identity-full'])).toMatch(/set REPLICA IDENTITY FULL on public\.events/);
  });
});
