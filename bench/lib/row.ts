/** One line of a results table: column name → the value as shown (already formatted). */
export type Row = Record<string, string>;
