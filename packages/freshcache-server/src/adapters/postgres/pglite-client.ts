import { PGlite } from '@electric-sql/pglite';
import type { SqlClient } from 'freshcache/postgres';

export interface PgliteClientOptions {
  /** A folder to keep the database in; in memory when absent. */
  dataDir?: string;
  /** A dump made by `dumpDataDir()`: starts in ~0.5 s instead of running initdb (~3 s). */
  loadDataDir?: Blob | File;
}

/** Embedded Postgres (PGlite, Postgres compiled to WASM), as it is: freshcache creates no table in it. */
export async function createPgliteClient(options: PgliteClientOptions = {}): Promise<SqlClient & { db: PGlite }> {
  const db = await PGlite.create({ dataDir: options.dataDir, loadDataDir: options.loadDataDir });
  return {
    db,
    query: async <R>(sql: string, params?: unknown[]) => {
      const result = await db.query<R>(sql, params);
      return { rows: result.rows };
    },
    listen: async (channel, onNotify) => {
      const unlisten = await db.listen(channel, () => onNotify());
      return async () => {
        if (!db.closed) await unlisten();
      };
    },
    close: async () => {
      if (!db.closed) await db.close();
    },
  };
}
