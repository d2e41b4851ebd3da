import pg from 'pg';
import type { SqlClient } from './sql-client.js';
import { CONTENT_SCHEMA } from './content-schema.js';

export interface PgClientOptions {
  /** postgres://user@host:port/database */
  connectionString: string;
  /** Connections in the pool (one more is held for LISTEN while listening). */
  max?: number;
}

/**
 * PostgreSQL through `pg`, with the content schema applied. Queries use a pool; LISTEN needs a
 * connection of its own, held for as long as someone listens.
 */
export async function createPgClient(options: PgClientOptions): Promise<SqlClient & { pool: pg.Pool }> {
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.max ?? 10 });
  // An idle client's error (the server restarting) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // Concurrent CREATE OR REPLACE of the same function can conflict: apply the schema under a lock.
  const setup = await pool.connect();
  try {
    await setup.query("SELECT pg_advisory_lock(hashtext('freshcache schema'))");
    await setup.query(CONTENT_SCHEMA);
  } finally {
    await setup.query("SELECT pg_advisory_unlock(hashtext('freshcache schema'))").catch(() => {});
    setup.release();
  }
  return {
    pool,
    query: async <R>(sql: string, params?: unknown[]) => {
      const result = await pool.query(sql, params);
      return { rows: result.rows as R[] };
    },
    listen: async (channel, onNotify) => {
      const client = await pool.connect();
      client.on('notification', (message) => {
        if (message.channel === channel) onNotify();
      });
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      return async () => {
        await client.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`).catch(() => {});
        client.release();
      };
    },
    close: async () => {
      await pool.end();
    },
  };
}
