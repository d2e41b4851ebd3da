/**
 * Errors of capture rules.
 * - `invalid_rule`: a rule is refused when compiled (at start): bad template, unknown table or
 *   column, nothing to purge on a truncate. The message names the table (and the column).
 * - `unmappable_change`: a change's targets cannot be computed: a row lacks a column that a rule's
 *   templates need (typically an old row without `REPLICA IDENTITY FULL`), or a value cannot be
 *   rendered into a key or tag (an object, empty text). The caller must not skip the change: the
 *   relay turns this error into a flush of everything.
 */
export type CaptureErrorCode = 'invalid_rule' | 'unmappable_change';

export class CaptureError extends Error {
  readonly code: CaptureErrorCode;
  readonly table: string;
  /** The columns named by the error (the unknown or missing ones). */
  readonly columns: readonly string[];

  constructor(code: CaptureErrorCode, table: string, message: string, columns: readonly string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CaptureError';
    this.code = code;
    this.table = table;
    this.columns = columns;
  }
}
