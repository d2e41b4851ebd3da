import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  missingOutboxTriggers,
  outboxInstallSql,
  outboxUninstallSql,
  walInstallSql,
  versionUninstallSql,
  versionColumnsOf,
  unbumpedVersionColumns,
  unbumpedVersionWarning,
  type VersionColumn,
  ROW_TRIGGER,
  TRUNCATE_TRIGGER,
  type SqlClient,
  checkNotPartitioned,
  checkReplicaIdentity,
  describeTables,
  type TableInfo,
} from 'freshcache/postgres';
import { CaptureError, compileRules, type CompiledRules } from 'freshcache';
import { resolveConfig } from '../../config.js';
import type { FreshcacheConfig } from '../../config.js';
import { loadConfigFile } from '../../config-file.js';

export const captureHelp = `freshcache capture install|uninstall --config FILE [--apply] [--replica-identity-full] [--version-columns] [--everything]

Prepares PostgreSQL for the capture of the tables FILE's capture rules name. Without --apply it
prints the SQL (stdout holds only SQL: review it, or pipe it to psql); with --apply it connects to
FILE's postgres origin, applies it in one transaction and says what it did. Run it as the owner
of the tables (or a superuser). Both are idempotent.

  install      outbox capture: the freshcache schema, its outbox table and trigger functions, and
               the triggers on each table. WAL capture needs nothing installed: the relay creates
               its publication and slot itself; with --apply the command checks each table as
               the relay will at start, and fails naming the tables it would refuse.
  uninstall    outbox capture: drops the triggers of those tables (--everything: also the outbox
               and the freshcache schema). WAL capture: drop the relay's replication slot, which
               holds WAL until dropped, with SELECT pg_drop_replication_slot('SLOT').

  --replica-identity-full   also ALTER TABLE ... REPLICA IDENTITY FULL each table (install), so
                            WAL capture sends whole old rows (harmless with the outbox)
  --version-columns         install: for each rule that names a version column, add the column
                            if missing (bigint NOT NULL DEFAULT 0) and a BEFORE INSERT OR UPDATE
                            trigger that bumps it on every write, whoever writes (psql included);
                            with outbox and WAL capture alike. uninstall: drop those triggers
                            (never the columns, which your code may read). Opt-in, as it changes
                            your tables and takes the column over: a column your code or a
                            trigger of your own already maintains keeps working without it.`;

/** Where the command writes: stdout in the CLI, a buffer in tests. */
export interface CaptureIo {
  print(text: string): void;
  env?: Record<string, string | undefined>;
}

const stdoutIo: CaptureIo = { print: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`) };

export async function capture(argv: string[], io: CaptureIo = stdoutIo): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      apply: { type: 'boolean', default: false },
      'replica-identity-full': { type: 'boolean', default: false },
      everything: { type: 'boolean', default: false },
      'version-columns': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.print(captureHelp);
    return;
  }
  const [action, ...extra] = positionals;
  if ((action !== 'install' && action !== 'uninstall') || extra.length > 0) {
    throw new Error(`capture needs install or uninstall${action === undefined ? '' : ` (got ${[action, ...extra].join(' ')})`}\n\n${captureHelp}`);
  }
  if (!values.config) throw new Error(`capture ${action} needs --config FILE\n\n${captureHelp}`);
  const file = values.config;
  const config = resolveConfig(await loadConfigFile(file, io.env ?? process.env));
  const rules = config.capture.rules ?? [];
  if (rules.length === 0) throw new Error(`${file} has no capture rules (capture.rules): there are no tables to capture`);
  // Shape and templates are checked here; columns too once connected.
  const tables = compileRules(rules).tables;
  const versionColumns = values['version-columns'] ? versionColumnsOf(rules) : [];
  if (values['version-columns'] && versionColumns.length === 0) throw new Error(`--version-columns: no capture rule of ${file} names a version column (a rule's "version")`);
  const options = { replicaIdentityFull: values['replica-identity-full'], everything: values.everything, versionColumns };
  if (action === 'install' && options.everything) throw new Error('--everything is an option of capture uninstall');
  if (action === 'uninstall' && options.replicaIdentityFull) throw new Error('--replica-identity-full is an option of capture install');
  const steps = plan(action, config, tables, options);

  if (!values.apply) {
    io.print(steps.sql);
    return;
  }
  if (config.origin.kind !== 'postgres') throw new Error(`capture ${action} --apply needs a postgres origin (${file} has ${config.origin.kind}; set origin or FRESHCACHE_POSTGRES_URL)`);
  const client = new pg.Client({ connectionString: config.origin.url });
  // A lost connection also fails the query in flight, which reports it; unheard, it would crash.
  client.on('error', () => {});
  await client.connect();
  try {
    const sql = singleConnection(client);
    let compiled: CompiledRules | undefined;
    if (action === 'install') {
      // Before anything is applied: a rule naming a table or column that does not exist.
      const catalog = await describeTables(sql, tables);
      // The version columns the install adds count as there.
      const columnsOf = (table: string) => {
        const columns = catalog.get(table)?.columns;
        return columns && [...columns, ...versionColumns.filter((c) => c.table === table).map((c) => c.column)];
      };
      compiled = compileWithHint(rules, columnsOf);
      // Both feeds refuse these at start (their partitions' rows and truncates would be missed).
      for (const info of catalog.values()) checkNotPartitioned(info);
    }
    // The printed script as it is, in one round trip: one transaction, as psql would run it.
    if (steps.runs) await client.query(steps.sql);
    for (const line of steps.done) io.print(line);
    if (compiled && config.capture.kind === 'wal') {
      // What the relay checks at start, on the tables as they are now (after any REPLICA IDENTITY FULL).
      const refused = refusals(compiled, await describeTables(sql, tables));
      for (const line of refused) io.print(line);
      if (refused.length > 0) throw new Error(`WAL capture refuses ${refused.length === 1 ? 'this table' : 'these tables'}: the relay will not start until ${refused.length === 1 ? 'it is' : 'they are'} fixed`);
    }
    if (action === 'install' && config.capture.kind === 'outbox') {
      const missing = await missingOutboxTriggers(sql, tables);
      if (missing.length > 0) throw new Error(`the capture triggers are still missing on ${missing.join(', ')}`);
    }
    if (action === 'install') {
      const unbumped = await unbumpedVersionColumns(sql, versionColumnsOf(rules));
      if (versionColumns.length > 0 && unbumped.length > 0) throw new Error(`the version triggers are still missing on ${unbumped.map((c) => c.table).join(', ')}`);
      // Not a refusal: the column may be one the application bumps in every write it makes.
      for (const column of unbumped) io.print(`warning: ${unbumpedVersionWarning(column)}`);
    }
  } finally {
    await client.end().catch(() => {});
  }
}

interface Plan {
  /** What to print (a SQL script, or only SQL comments when there is nothing to run). */
  sql: string;
  /** Whether the script has statements to run (else it is only comments). */
  runs: boolean;
  /** What was done, once applied. */
  done: string[];
}

function plan(
  action: 'install' | 'uninstall',
  config: FreshcacheConfig,
  tables: string[],
  options: { replicaIdentityFull: boolean; everything: boolean; versionColumns: VersionColumn[] },
): Plan {
  const list = tables.join(', ');
  const slot = config.capture.kind === 'wal' ? config.capture.slot : 'freshcache_relay';
  const dropSlot = `The WAL capture's replication slot holds WAL until it is dropped: SELECT pg_drop_replication_slot('${slot.replaceAll("'", "''")}');`;
  const versioned = options.versionColumns.map((c) => `${c.table}.${c.column}`).join(', ');
  if (action === 'uninstall') {
    const versions = versioned ? [`dropped the version triggers of ${versioned} (the columns stay: drop them yourself if nothing reads them)`] : [];
    if (config.capture.kind === 'outbox') {
      return {
        sql: outboxUninstallSql(tables, { everything: options.everything, versionColumns: options.versionColumns }),
        runs: true,
        done: [`dropped the capture triggers on ${list}${options.everything ? ', and the freshcache outbox' : ''}`, ...versions],
      };
    }
    if (versioned) return { sql: `${versionUninstallSql(options.versionColumns)}-- ${dropSlot}\n`, runs: true, done: [...versions, dropSlot] };
    return { sql: `-- WAL capture installs nothing on the tables.\n-- ${dropSlot}\n`, runs: false, done: [`nothing to uninstall for WAL capture. ${dropSlot}`] };
  }
  const identity = options.replicaIdentityFull ? [`set REPLICA IDENTITY FULL on ${list}`] : [];
  const versions = versioned ? [`installed the version triggers of ${versioned} (each column added where missing)`] : [];
  const installOptions = { replicaIdentityFull: options.replicaIdentityFull, versionColumns: options.versionColumns };
  if (config.capture.kind === 'outbox') {
    return {
      sql: outboxInstallSql(tables, installOptions),
      runs: true,
      done: [`installed outbox capture (triggers ${ROW_TRIGGER}, ${TRUNCATE_TRIGGER}) on ${list}`, ...identity, ...versions],
    };
  }
  const relayDoes = 'WAL capture needs nothing installed: the relay creates its publication and replication slot itself.';
  const sql = walInstallSql(tables, installOptions);
  if (sql) return { sql, runs: true, done: [...identity, ...versions, relayDoes] };
  return { sql: `-- ${relayDoes}\n-- Rules that read old-row columns outside a table's replica identity need --replica-identity-full.\n`, runs: false, done: [relayDoes] };
}

/** compileRules, whose refusal of a missing version column says what adds it. */
function compileWithHint(rules: FreshcacheConfig['capture']['rules'], columnsOf: (table: string) => string[] | undefined): CompiledRules {
  try {
    return compileRules(rules, { columnsOf });
  } catch (error) {
    const versions = versionColumnsOf(rules);
    const isVersion = (column: string) => versions.some((c) => error instanceof CaptureError && c.table === error.table && c.column === column);
    if (error instanceof CaptureError && error.columns.length > 0 && error.columns.every(isVersion)) {
      throw new CaptureError(error.code, error.table, `${error.message} (--version-columns adds a rule's missing version column, and the trigger that bumps it)`, error.columns);
    }
    throw error;
  }
}

/** For WAL capture: why the relay would refuse each table it would refuse, in its own words. */
function refusals(compiled: CompiledRules, catalog: Map<string, TableInfo>): string[] {
  const lines: string[] = [];
  for (const table of compiled.tables) {
    try {
      checkReplicaIdentity({ ...compiled, tables: [table] }, catalog);
    } catch (error) {
      if (!(error instanceof CaptureError)) throw error;
      lines.push(error.message);
    }
  }
  return lines;
}

/** One connection as a SqlClient, for the catalog queries (no LISTEN needed here). */
function singleConnection(client: pg.Client): SqlClient {
  return {
    query: async <R>(text: string, params?: unknown[]) => ({ rows: (await client.query(text, params)).rows as R[] }),
    listen: () => Promise.reject(new Error('capture: LISTEN is not used')),
    close: () => client.end(),
  };
}
