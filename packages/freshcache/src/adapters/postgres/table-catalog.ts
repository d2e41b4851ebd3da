import { qualifyTable } from '../../seams/row-change.js';
import type { SqlClient } from './sql-client.js';

/**
 * What a row change of a table can carry. `replicaIdentity` decides what WAL capture sends as the
 * old row of an update or delete: `full` the whole row; `default` (the primary key) and `index`
 * only `identityColumns`; `nothing` no old row at all, and PostgreSQL then refuses the table's
 * UPDATEs and DELETEs once it is published.
 */
export interface TableInfo {
  /** Schema-qualified: `public.users`. */
  table: string;
  columns: string[];
  replicaIdentity: 'default' | 'full' | 'index' | 'nothing';
  /** The columns an old row carries under this identity (all of them when `full`; none when there is no key). */
  identityColumns: string[];
  /** The primary key's columns (none without one): a key template that names them all names one row. */
  primaryKey: string[];
  /** The table's OID: a rename keeps it. */
  oid: number;
  /** A partitioned table (the root of partitions), which holds no rows of its own. */
  partitioned: boolean;
  /** The partitioned table this one is a partition of, if any. */
  partitionOf: string | undefined;
}

const IDENTITY = { d: 'default', f: 'full', i: 'index', n: 'nothing' } as const;

/** Reads the catalog for `tables` (any spelling `qualifyTable` accepts); a table that does not exist is absent from the map. */
export async function describeTables(sql: SqlClient, tables: readonly string[]): Promise<Map<string, TableInfo>> {
  const qualified = [...new Set(tables.map(qualifyTable))];
  const { rows } = await sql.query<{
    oid: number;
    schema: string;
    name: string;
    kind: string;
    parent: string | null;
    ident: keyof typeof IDENTITY;
    columns: string[];
    key: string[] | null;
    pk: string[] | null;
  }>(
    `SELECT c.oid::int8::float8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind, c.relreplident AS ident,
            (SELECT pn.nspname || '.' || p.relname FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent
               JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE c.relispartition AND h.inhrelid = c.oid) AS parent,
            ARRAY(SELECT a.attname::text FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
            ARRAY(SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
                   WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))
                   ORDER BY a.attnum) AS key,
            ARRAY(SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
                   WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY a.attnum) AS pk
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname || '.' || c.relname = ANY($1::text[])`,
    [qualified],
  );
  const catalog = new Map<string, TableInfo>();
  for (const row of rows) {
    const replicaIdentity = IDENTITY[row.ident];
    catalog.set(`${row.schema}.${row.name}`, {
      table: `${row.schema}.${row.name}`,
      columns: row.columns,
      replicaIdentity,
      identityColumns: replicaIdentity === 'full' ? row.columns : replicaIdentity === 'nothing' ? [] : (row.key ?? []),
      primaryKey: row.pk ?? [],
      oid: Number(row.oid),
      partitioned: row.kind === 'p',
      partitionOf: row.parent ?? undefined,
    });
  }
  return catalog;
}
