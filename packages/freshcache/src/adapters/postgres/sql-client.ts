/**
 * The little of a SQL connection the origin needs. PGlite's `PGlite` and pg's `Pool` both fit,
 * so the apps' queries and the outbox feed are written once for both.
 */
export interface SqlClient {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
  /**
   * Calls `onNotify` on every NOTIFY on `channel`, and once more after a lost connection came back
   * (a NOTIFY sent meanwhile is lost); resolves to an unlisten function.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
