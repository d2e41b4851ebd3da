/** A row as a change feed reports it: column name → value (as the driver decodes it). */
export type Row = Record<string, unknown>;

export type RowOp = 'insert' | 'update' | 'delete' | 'truncate';

/**
 * One committed change to one row (or, for `truncate`, to a whole table), in commit order.
 *
 * Which rows are present:
 * - `insert`: `new`.
 * - `update`: `new`, and `old` when the feed has it. With PostgreSQL's default replica identity,
 *   pgoutput sends an old row only when the key changed, and then only its key columns; an absent
 *   `old` means the replica identity did not change. With `REPLICA IDENTITY FULL` `old` is whole.
 * - `delete`: `old` (only the key columns under the default replica identity).
 * - `truncate`: neither. A TRUNCATE of several tables is reported as one change per table.
 *
 * A feed leaves out the columns it does not know (never reports them as null): an old row that
 * carries only the key has no other columns, and a TOASTed value that an update left unchanged
 * (pgoutput does not resend it) is absent from `new`. Capture rules rely on this to tell "no
 * value" (null) from "not sent".
 */
export interface RowChange {
  /** Schema-qualified table name, `public.users` (see `qualifyTable`). */
  table: string;
  op: RowOp;
  old?: Row;
  new?: Row;
  /** Feed position (outbox id or LSN); the feed acknowledges positions in order. */
  position: number;
  /** Commit time, epoch milliseconds. */
  committedAt: number;
  /** The PostgreSQL transaction id, when the feed knows it: changes with the same txid committed together. */
  txid?: number;
}

/**
 * The one spelling of a table name that feeds and rules share: `schema.table`. An unqualified
 * name means the `public` schema (`users` → `public.users`). Names are compared exactly as
 * written, as PostgreSQL stores them (an unquoted identifier is stored in lower case); quoted
 * identifiers containing dots are not supported, so a name with more than one dot is refused.
 */
export function qualifyTable(name: string): string {
  const parts = typeof name === 'string' ? name.split('.') : [];
  if (parts.length === 1 && parts[0] !== '') return `public.${name}`;
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return name;
  throw new TypeError(`Table name ${JSON.stringify(name)}: expected "table" or "schema.table"`);
}
