/** One line of a results table: column name → the value as shown (already formatted). */
export type Row = Record<string, string>;

/** A scenario's result: its main table, and more tables where one cannot say it all (e.g. a CPU profile). */
export interface ScenarioOutput {
  rows: Row[];
  tables?: { title: string; rows: Row[] }[];
}
