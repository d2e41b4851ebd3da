import { CaptureError } from '../../capture/capture-error.js';
import type { CaptureRule, CompiledRules } from '../../capture/capture-rules.js';
import { compileRules } from '../../capture/capture-rules.js';
import type { Clock } from '../../engine/clock.js';
import type { ChangeFeed } from '../../seams/change-feed.js';
import { OutboxFeed } from './outbox-feed.js';
import { checkNotPartitioned, checkReplicaIdentity } from './replica-identity.js';
import type { SqlClient } from './sql-client.js';
import { describeTables } from './table-catalog.js';
import { unbumpedVersionColumns, unbumpedVersionWarning, versionColumnsOf } from './version-columns.js';
import { WalFeed } from './wal-feed.js';

export interface PostgresCaptureOptions {
  /** The captured database: the tables are read from its catalog. */
  sql: SqlClient;
  rules: readonly CaptureRule[];
  /** `wal`: logical replication (pgoutput), needs `connectionString`. `outbox`: triggers installed by `freshcache capture install`. */
  kind: 'wal' | 'outbox';
  /** The replication connection (wal): postgres://user@host:port/database, the database `sql` uses. */
  connectionString?: string;
  /** The replication slot (wal); one per database and relay group. */
  slotName?: string;
  /** The publication (wal) that freshcache creates and keeps in step with the rules' tables; by default named as the slot. */
  publicationName?: string;
  /** How often the outbox is polled besides its NOTIFY wake-ups. */
  pollMs?: number;
  clock?: Clock;
  onError?: (error: unknown) => void;
  /**
   * What the catalog check found doubtful but does not refuse: a rule's version column that no
   * trigger bumps (neither freshcache's nor a BEFORE UPDATE trigger of the table's own), which
   * only the application's writes may keep up to date.
   */
  onWarning?: (message: string) => void;
}

export interface PostgresCapture {
  feed: ChangeFeed;
  rules: CompiledRules;
}

/**
 * Change capture for the tables that capture rules name, checked against the database before
 * anything runs: a rule naming a table or column that does not exist is refused (CaptureError
 * `invalid_rule`, naming them), and so is a partitioned table or a partition (not supported yet)
 * and, for WAL capture, a rule that needs old-row columns the table's replica identity does not send.
 * A version column that no trigger bumps is only warned about (`onWarning`).
 */
export async function postgresCapture(options: PostgresCaptureOptions): Promise<PostgresCapture> {
  const named = compileRules(options.rules);
  if (named.tables.length === 0) {
    throw new CaptureError('invalid_rule', '', 'No capture rules: name the tables to capture and what their changes invalidate (capture.rules)');
  }
  const catalog = await describeTables(options.sql, named.tables);
  const rules = compileRules(options.rules, { columnsOf: (table) => catalog.get(table)?.columns, primaryKeyOf: (table) => catalog.get(table)?.primaryKey });
  for (const info of catalog.values()) checkNotPartitioned(info);
  if (options.onWarning) {
    for (const column of await unbumpedVersionColumns(options.sql, versionColumnsOf(options.rules))) options.onWarning(unbumpedVersionWarning(column));
  }
  if (options.kind === 'outbox') {
    return { rules, feed: new OutboxFeed({ sql: options.sql, tables: rules.tables, clock: options.clock, pollMs: options.pollMs, onError: options.onError }) };
  }
  if (!options.connectionString) throw new TypeError('postgresCapture: WAL capture needs the connectionString of the database');
  checkReplicaIdentity(rules, catalog);
  const feed = new WalFeed({
    connectionString: options.connectionString,
    sql: options.sql,
    tables: rules.tables,
    slotName: options.slotName,
    publicationName: options.publicationName,
    clock: options.clock,
    onError: options.onError,
  });
  return { rules, feed };
}
