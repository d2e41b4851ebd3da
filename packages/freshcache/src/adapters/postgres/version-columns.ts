import type { CaptureRule } from '../../capture/capture-rules.js';
import { qualifyTable } from '../../seams/row-change.js';
import type { SqlClient } from './sql-client.js';

/**
 * Version columns the database maintains: a `BEFORE INSERT OR UPDATE` trigger sets the column a
 * capture rule names as `version` on every write, whoever makes it (the application, psql, a
 * migration), so that the version rule can trust it. `updated_at` cannot be trusted: a write may
 * leave it alone, and `now()` is the transaction's start, not its commit order.
 */
export interface VersionColumn {
  /** Schema-qualified: `public.users`. */
  table: string;
  column: string;
}

const SCHEMA = 'freshcache';
const PREFIX = 'bump_';
/** The trigger (on the table) and its function (in the freshcache schema) are named after the column. */
export const VERSION_TRIGGER_PREFIX = `freshcache_${PREFIX}`;
/** PostgreSQL truncates longer identifiers (NAMEDATALEN - 1 bytes), which could make two columns share a trigger. */
const MAX_IDENTIFIER = 63;

/** The trigger that bumps `column`: `freshcache_bump_rev`. */
export function versionTriggerName(column: string): string {
  const name = `${VERSION_TRIGGER_PREFIX}${column}`;
  if (Buffer.byteLength(name) > MAX_IDENTIFIER) {
    throw new Error(`version column ${column}: its trigger's name ${name} would be longer than ${MAX_IDENTIFIER} bytes; name a shorter column`);
  }
  return name;
}

/** The version columns that template rules name, once per table and column. */
export function versionColumnsOf(rules: readonly CaptureRule[]): VersionColumn[] {
  const seen = new Map<string, VersionColumn>();
  for (const rule of rules) {
    if (!('version' in rule) || typeof rule.version !== 'string') continue;
    const column = { table: qualifyTable(rule.table), column: rule.version };
    seen.set(`${column.table}\u0000${column.column}`, column);
  }
  return [...seen.values()];
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
const quoteTable = (table: string) => qualifyTable(table).split('.').map(ident).join('.');
const functionName = (column: string) => `${SCHEMA}.${ident(`${PREFIX}${column}`)}`;

/**
 * The install, statement by statement, each idempotent:
 * - one function per column name, shared by the tables whose version column has that name: the
 *   column is named in its body (plpgsql cannot assign a field named at run time without
 *   converting the whole row). An UPDATE sets the old version + 1, whatever the statement wrote
 *   (it runs after the row is locked, so concurrent updates of a row get consecutive versions in
 *   commit order); an INSERT sets 1. SECURITY INVOKER like the outbox's functions.
 * - the column, only if it is missing: `bigint NOT NULL DEFAULT 0`, which PostgreSQL 11+ adds
 *   without rewriting the table; rows that exist get 0, older than any write the trigger makes.
 *   An existing column is kept, and refused unless it is a bigint or an integer (the trigger
 *   would otherwise fail every write). Not a plain `ADD COLUMN IF NOT EXISTS`: that takes an
 *   ACCESS EXCLUSIVE lock, blocking reads, even when the column is there.
 * - the trigger, `BEFORE INSERT OR UPDATE ... FOR EACH ROW`.
 */
export function versionColumnStatements(columns: readonly VersionColumn[]): string[] {
  if (columns.length === 0) return [];
  const names = [...new Set(columns.map((c) => c.column))];
  const functions = names.map(
    (column) => `CREATE OR REPLACE FUNCTION ${functionName(column)}() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    NEW.${ident(column)} := COALESCE(OLD.${ident(column)}, 0) + 1;
  ELSE
    NEW.${ident(column)} := 1;
  END IF;
  RETURN NEW;
END $$`,
  );
  const perTable = columns.flatMap(({ table, column }) => {
    const name = quoteTable(table);
    return [
      `DO $freshcache_version$
DECLARE
  kind regtype := (SELECT atttypid::regtype FROM pg_attribute
                    WHERE attrelid = ${literal(name)}::regclass AND attname = ${literal(column)} AND attnum > 0 AND NOT attisdropped);
BEGIN
  IF kind IS NULL THEN
    ALTER TABLE ${name} ADD COLUMN ${ident(column)} bigint NOT NULL DEFAULT 0;
  ELSIF kind NOT IN ('bigint'::regtype, 'integer'::regtype) THEN
    RAISE EXCEPTION 'freshcache: column % of % is %, not a version: a version column is a bigint (or an integer) that the trigger bumps', ${literal(column)}, ${literal(qualifyTable(table))}, kind;
  END IF;
END $freshcache_version$`,
      `CREATE OR REPLACE TRIGGER ${ident(versionTriggerName(column))} BEFORE INSERT OR UPDATE ON ${name}
  FOR EACH ROW EXECUTE FUNCTION ${functionName(column)}()`,
    ];
  });
  return [`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`, ...functions, ...perTable];
}

/** Drops the version triggers; the columns and their values stay (the application may read them). */
export function versionTriggerDropStatements(columns: readonly VersionColumn[]): string[] {
  return columns.map(({ table, column }) => `DROP TRIGGER IF EXISTS ${ident(versionTriggerName(column))} ON ${quoteTable(table)}`);
}

/** Drops the bump functions no trigger uses any more (the others serve tables other rules name). */
export const UNUSED_VERSION_FUNCTIONS_DROP = `DO $freshcache_version$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = ${literal(SCHEMA)} AND p.proname LIKE ${literal(`${PREFIX.replaceAll('_', '\\_')}%`)}
              AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgfoid = p.oid) LOOP
    EXECUTE 'DROP FUNCTION ' || f;
  END LOOP;
END $freshcache_version$`;

/**
 * The version columns among `columns` that no trigger could bump: their table has neither the
 * freshcache trigger for that column nor any enabled `BEFORE UPDATE` row trigger of its own (which
 * is trusted: what it does cannot be read from the catalog), or does not exist. Nothing in the
 * database then changes the column when a write leaves it alone.
 */
export async function unbumpedVersionColumns(sql: Pick<SqlClient, 'query'>, columns: readonly VersionColumn[]): Promise<VersionColumn[]> {
  if (columns.length === 0) return [];
  // tgtype bits: 1 row, 2 before, 16 update.
  const { rows } = await sql.query<{ table: string; trigger: string }>(
    `SELECT n.nspname || '.' || c.relname AS table, t.tgname AS trigger
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgtype::int & 19 = 19
        AND n.nspname || '.' || c.relname = ANY($1::text[])`,
    [columns.map((c) => c.table)],
  );
  const bumped = (c: VersionColumn) =>
    rows.some((row) => row.table === c.table && (row.trigger === versionTriggerName(c.column) || !row.trigger.startsWith(VERSION_TRIGGER_PREFIX)));
  return columns.filter((c) => !bumped(c));
}

/** What the relay and `capture install` say about a version column that nothing in the database bumps. */
export function unbumpedVersionWarning({ table, column }: VersionColumn): string {
  return (
    `Capture rules on table ${table} read column ${column} as the row's version, and no trigger bumps it (neither ${versionTriggerName(column)} nor a BEFORE UPDATE trigger of your own). ` +
    'The version rule keeps a cached value whose version is as new as a change: a write that leaves the column alone would keep a stale value. ' +
    '`freshcache capture install --version-columns` adds the trigger.'
  );
}
