import { qualifyTable } from '../../seams/row-change.js';
import type { SqlClient } from './sql-client.js';
import { UNUSED_VERSION_FUNCTIONS_DROP, versionColumnStatements, versionTriggerDropStatements, type VersionColumn } from './version-columns.js';

/** What an install adds besides the outbox: REPLICA IDENTITY FULL on each table, the version columns' triggers. */
export interface InstallOptions {
  replicaIdentityFull?: boolean;
  /** Version columns to add if missing, with the trigger that bumps them on every write (see version-columns.ts). */
  versionColumns?: readonly VersionColumn[];
}

/**
 * Outbox capture of any tables: a trigger on each captured table writes every row change (old and
 * new row as jsonb) into `freshcache.outbox` in the same transaction, so no code path (the
 * application, psql, a migration) can change a row without recording it. `OutboxFeed` reads it.
 */
export const OUTBOX_SCHEMA = 'freshcache';
export const OUTBOX_TABLE = `${OUTBOX_SCHEMA}.outbox`;
/** NOTIFY channel: only a wake-up call for the feed; the outbox row is the durable record. */
export const OUTBOX_CHANNEL = 'freshcache_outbox';
export const ROW_TRIGGER = 'freshcache_capture';
export const TRUNCATE_TRIGGER = 'freshcache_capture_truncate';

/** `"name"`, with embedded quotes doubled: names are used as PostgreSQL stores them. */
function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."table"` of any spelling `qualifyTable` accepts. */
export function quoteTable(table: string): string {
  const [schema, name] = qualifyTable(table).split('.') as [string, string];
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

function unique(tables: readonly string[]): string[] {
  return [...new Set(tables.map(qualifyTable))];
}

/*
 * The trigger functions run as the role that writes the table, never SECURITY DEFINER: to_jsonb
 * calls the casts to json(b) of the row's column types, which a table's owner may define, so a
 * definer function would run the owner's code as whoever installed capture (often a superuser).
 * Writers therefore need to insert into the outbox, which is granted to PUBLIC: any role can then
 * add outbox rows, which can only cause extra invalidations (the relay reads nothing else there).
 * committed_at is now(), the transaction's start, the same for all its rows (txid groups them):
 * outbox lag is measured from the start of the transaction that made the change.
 * The indexes serve the relay's drain: its tables' oldest rows, then whole transactions by txid.
 */
const SHARED_OBJECTS = [
  `CREATE SCHEMA IF NOT EXISTS ${OUTBOX_SCHEMA}`,
  `CREATE TABLE IF NOT EXISTS ${OUTBOX_TABLE} (
  id           bigserial PRIMARY KEY,
  txid         bigint NOT NULL DEFAULT txid_current(),
  table_name   text NOT NULL,
  op           text NOT NULL,
  old          jsonb,
  new          jsonb,
  committed_at timestamptz NOT NULL DEFAULT now()
)`,
  `CREATE INDEX IF NOT EXISTS outbox_table_name_id ON ${OUTBOX_TABLE} (table_name, id)`,
  `CREATE INDEX IF NOT EXISTS outbox_txid ON ${OUTBOX_TABLE} (txid)`,
  `GRANT USAGE ON SCHEMA ${OUTBOX_SCHEMA} TO PUBLIC`,
  `GRANT INSERT ON ${OUTBOX_TABLE} TO PUBLIC`,
  `GRANT USAGE ON SEQUENCE ${OUTBOX_TABLE}_id_seq TO PUBLIC`,
  `CREATE OR REPLACE FUNCTION ${OUTBOX_SCHEMA}.capture_row() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO ${OUTBOX_TABLE} (table_name, op, old, new)
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, lower(TG_OP),
            CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
            CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
  PERFORM pg_notify('${OUTBOX_CHANNEL}', '');
  RETURN NULL;
END $$`,
  `CREATE OR REPLACE FUNCTION ${OUTBOX_SCHEMA}.capture_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO ${OUTBOX_TABLE} (table_name, op) VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, 'truncate');
  PERFORM pg_notify('${OUTBOX_CHANNEL}', '');
  RETURN NULL;
END $$`,
];

/** The install, statement by statement, each idempotent. */
export function outboxInstallStatements(tables: readonly string[], options: InstallOptions = {}): string[] {
  const triggers = unique(tables).flatMap((table) => [
    `CREATE OR REPLACE TRIGGER ${ROW_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON ${quoteTable(table)}
  FOR EACH ROW EXECUTE FUNCTION ${OUTBOX_SCHEMA}.capture_row()`,
    `CREATE OR REPLACE TRIGGER ${TRUNCATE_TRIGGER} AFTER TRUNCATE ON ${quoteTable(table)}
  FOR EACH STATEMENT EXECUTE FUNCTION ${OUTBOX_SCHEMA}.capture_truncate()`,
  ]);
  return [...SHARED_OBJECTS, ...triggers, ...extraStatements(tables, options)];
}

function extraStatements(tables: readonly string[], options: InstallOptions): string[] {
  return [...(options.replicaIdentityFull ? replicaIdentityStatements(tables) : []), ...versionColumnStatements(options.versionColumns ?? [])];
}

/** A script for psql: one transaction, serialised against a concurrent install (CREATE OR REPLACE FUNCTION races otherwise). */
function script(header: string[], statements: string[]): string {
  return [
    ...header.map((line) => `-- ${line}`),
    'BEGIN;',
    "SELECT pg_advisory_xact_lock(hashtext('freshcache capture install'));",
    ...statements.map((statement) => `${statement};`),
    'COMMIT;',
    '',
  ].join('\n');
}

/**
 * The SQL that installs outbox capture of `tables`, as one transaction: idempotent (running it
 * again changes nothing). Needs the owner of each table, or a superuser.
 */
export function outboxInstallSql(tables: readonly string[], options: InstallOptions = {}): string {
  return script(
    [`freshcache capture install: outbox capture of ${unique(tables).join(', ')}.`, 'Idempotent: running it again changes nothing.'],
    outboxInstallStatements(tables, options),
  );
}

/**
 * The SQL that stops capturing `tables`: drops their triggers, and the rows already recorded stay.
 * `versionColumns`: also drops those columns' version triggers (the columns stay).
 * `everything` also drops the functions (with any trigger left on other tables), the outbox and
 * its schema; the version functions no trigger uses; the schema only if nothing else is in it (a
 * version trigger kept, for WAL capture, keeps it).
 */
export function outboxUninstallSql(tables: readonly string[], options: { everything?: boolean; versionColumns?: readonly VersionColumn[] } = {}): string {
  const statements = unique(tables).flatMap((table) => [
    `DROP TRIGGER IF EXISTS ${ROW_TRIGGER} ON ${quoteTable(table)}`,
    `DROP TRIGGER IF EXISTS ${TRUNCATE_TRIGGER} ON ${quoteTable(table)}`,
  ]);
  statements.push(...versionTriggerDropStatements(options.versionColumns ?? []));
  if (options.everything) {
    statements.push(
      `DROP FUNCTION IF EXISTS ${OUTBOX_SCHEMA}.capture_row() CASCADE`,
      `DROP FUNCTION IF EXISTS ${OUTBOX_SCHEMA}.capture_truncate() CASCADE`,
      `DROP TABLE IF EXISTS ${OUTBOX_TABLE}`,
      UNUSED_VERSION_FUNCTIONS_DROP,
      `DO $freshcache_uninstall$
BEGIN
  DROP SCHEMA IF EXISTS ${OUTBOX_SCHEMA};
EXCEPTION WHEN dependent_objects_still_exist THEN
  RAISE NOTICE 'freshcache: schema ${OUTBOX_SCHEMA} kept: it still holds objects (version triggers in use, or your own)';
END $freshcache_uninstall$`,
    );
  }
  return script([`freshcache capture uninstall: stop outbox capture of ${unique(tables).join(', ')}${options.everything ? ', and drop the outbox' : ''}.`], statements);
}

/** For WAL capture, which installs nothing of its own: drops the version columns' triggers (the columns stay). */
export function versionUninstallSql(columns: readonly VersionColumn[]): string {
  return script([`freshcache capture uninstall: drop the version triggers of ${columns.map((c) => `${c.table}.${c.column}`).join(', ')} (the columns stay).`], versionTriggerDropStatements(columns));
}

function replicaIdentityStatements(tables: readonly string[]): string[] {
  return unique(tables).map((table) => `ALTER TABLE ${quoteTable(table)} REPLICA IDENTITY FULL`);
}

/**
 * For WAL capture: whole old rows in updates and deletes, so that rules may read any column of
 * the old row. Costs WAL volume on tables that are updated often.
 */
export function replicaIdentityFullSql(tables: readonly string[]): string {
  return walInstallSql(tables, { replicaIdentityFull: true });
}

/**
 * What WAL capture may install (the relay creates its publication and slot itself): REPLICA
 * IDENTITY FULL on `tables`, and version columns with their triggers. Empty when neither is asked.
 */
export function walInstallSql(tables: readonly string[], options: InstallOptions): string {
  const statements = extraStatements(tables, options);
  if (statements.length === 0) return '';
  const what = [
    ...(options.replicaIdentityFull ? [`REPLICA IDENTITY FULL on ${unique(tables).join(', ')}`] : []),
    ...(options.versionColumns?.length ? [`version triggers on ${options.versionColumns.map((c) => `${c.table}.${c.column}`).join(', ')}`] : []),
  ];
  return script([`freshcache capture install: ${what.join('; ')}.`, 'Idempotent: running it again changes nothing.'], statements);
}

/**
 * Installs outbox capture of `tables`: one statement (a DO block that runs each step), so one
 * transaction on any client (a pool's connection, PGlite), serialised against a concurrent
 * install by the same advisory lock as the printed script. Relays starting together (a leader and
 * its standby) would otherwise race on CREATE SCHEMA and CREATE OR REPLACE FUNCTION.
 */
export async function installOutbox(sql: Pick<SqlClient, 'query'>, tables: readonly string[], options: InstallOptions = {}): Promise<void> {
  const steps = outboxInstallStatements(tables, options).map((statement, i) => {
    const tag = `$freshcache_step_${i}$`;
    if (statement.includes(tag)) throw new Error(`installOutbox: a table name contains ${tag}`);
    return `  EXECUTE ${tag}${statement}${tag};`;
  });
  await sql.query(
    ['DO $freshcache_install$', 'BEGIN', "  PERFORM pg_advisory_xact_lock(hashtext('freshcache capture install'));", ...steps, 'END $freshcache_install$'].join('\n'),
  );
}

/** The tables (schema-qualified) among `tables` that lack either enabled capture trigger, or do not exist. */
export async function missingOutboxTriggers(sql: Pick<SqlClient, 'query'>, tables: readonly string[]): Promise<string[]> {
  const wanted = unique(tables);
  if (wanted.length === 0) return [];
  const { rows } = await sql.query<{ table: string }>(
    `SELECT n.nspname || '.' || c.relname AS table
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE t.tgname IN ($1, $2) AND t.tgenabled <> 'D' AND n.nspname || '.' || c.relname = ANY($3::text[])
      GROUP BY 1 HAVING count(DISTINCT t.tgname) = 2`,
    [ROW_TRIGGER, TRUNCATE_TRIGGER, wanted],
  );
  const installed = new Set(rows.map((row) => row.table));
  return wanted.filter((table) => !installed.has(table));
}
