import { CaptureError } from '../../capture/capture-error.js';
import type { CompiledRules } from '../../capture/capture-rules.js';
import type { TableInfo } from './table-catalog.js';

/**
 * Refuses, before WAL capture starts, the tables whose changes it could not map (CaptureError
 * `invalid_rule`, naming the table and the columns):
 * - a table that does not exist;
 * - a table with no replica identity (`REPLICA IDENTITY NOTHING`, or the default one without a
 *   primary key): once published, PostgreSQL refuses the application's own UPDATEs and DELETEs;
 * - a table whose template rules read columns outside its replica identity, unless it is
 *   `REPLICA IDENTITY FULL`: the old row of an update or delete carries only the identity columns,
 *   so a user moved from org 3 to org 7 would leave `org:3` stale.
 *
 * A function rule cannot be checked (which columns it reads is unknown): on a table without
 * `REPLICA IDENTITY FULL`, reading only what the old row carries is its author's responsibility.
 */
export function checkReplicaIdentity(rules: CompiledRules, catalog: Map<string, TableInfo>): void {
  for (const table of rules.tables) {
    const info = catalog.get(table);
    if (!info) throw new CaptureError('invalid_rule', table, `Capture rules name table ${table}: no such table`);
    checkPublishable(info);
    if (info.replicaIdentity === 'full') continue;
    const outside = rules.columnsRead(table).filter((column) => !info.identityColumns.includes(column));
    if (outside.length > 0) {
      throw new CaptureError(
        'invalid_rule',
        table,
        `Capture rules on table ${table} read column(s) ${outside.join(', ')}, which its replica identity (${info.replicaIdentity}: ${info.identityColumns.join(', ')}) does not send with the old row of an update or delete. ` +
          `Run \`freshcache capture install --replica-identity-full\` or \`ALTER TABLE ${quoteTable(table)} REPLICA IDENTITY FULL\`.`,
        outside,
      );
    }
  }
}

/** Refuses a table that has no replica identity: publishing it would make its UPDATEs and DELETEs fail. */
export function checkPublishable(info: TableInfo): void {
  if (info.replicaIdentity !== 'nothing' && info.identityColumns.length > 0) return;
  const why = info.replicaIdentity === 'nothing' ? 'is REPLICA IDENTITY NOTHING' : 'has no primary key (its replica identity is the default one)';
  throw new CaptureError(
    'invalid_rule',
    info.table,
    `Table ${info.table} ${why}: publishing it would make the application's own UPDATEs and DELETEs fail. ` +
      `Add a primary key, or run \`ALTER TABLE ${quoteTable(info.table)} REPLICA IDENTITY FULL\`.`,
  );
}

/**
 * Refuses a partitioned table, and a partition: WAL capture would lose old-row columns (the root's
 * REPLICA IDENTITY FULL does not reach its partitions) and TRUNCATEs of a single partition.
 */
export function checkNotPartitioned(info: TableInfo): void {
  if (!info.partitioned && info.partitionOf === undefined) return;
  const what = info.partitioned ? 'is a partitioned table' : `is a partition of ${info.partitionOf}`;
  throw new CaptureError('invalid_rule', info.table, `Table ${info.table} ${what}: capturing partitioned tables is not supported yet.`);
}

/** `schema.table` as SQL, each part quoted: `"public"."users"`. */
export function quoteTable(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join('.');
}
