import pg from 'pg';
import type { SqlClient } from './sql-client.js';
import { CONTENT_SCHEMA } from './content-schema.js';
import { PgListener } from './pg-listener.js';

export interface PgClientOptions {
  /** postgres://user@host:port/database */
  connectionString: string;
  /** Connections in the pool (each listen() holds one more of its own). */
  max?: number;
  /** A connection lost (the server restarting): the pool opens a new one for the next query, a listener reconnects. */
  onError?: (error: unknown) => void;
}

/** Bounded, so that a black-holed server fails a query (and the caller's retry) instead of hanging it. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * PostgreSQL through `pg`, with the content schema applied. Queries use a pool; LISTEN needs a
 * connection of its own, held for as long as someone listens, and re-established when lost.
 */
export async function createPgClient(options: PgClientOptions): Promise<SqlClient & { pool: pg.Pool }> {
  const onError = options.onError ?? (() => {});
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.max ?? 10, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle client's error (the server restarting) must not crash the process; the next query reconnects.
  pool.on('error', onError);
  // Concurrent CREATE OR REPLACE of the same function can conflict: apply the schema under a lock.
  const setup = await pool.connect();
  // Checked out, the client has no pool listener: an error between two queries would be unhandled.
  setup.on('error', onError);
  try {
    await setup.query("SELECT pg_advisory_lock(hashtext('freshcache schema'))");
    await setup.query(CONTENT_SCHEMA);
  } finally {
    await setup.query("SELECT pg_advisory_unlock(hashtext('freshcache schema'))").catch(() => {});
    setup.off('error', onError);
    setup.release();
  }
  const listeners = new Set<PgListener>();
  return {
    pool,
    query: async <R>(sql: string, params?: unknown[]) => {
      const result = await pool.query(sql, params);
      return { rows: result.rows as R[] };
    },
    listen: async (channel, onNotify) => {
      const listener = new PgListener({ connectionString: options.connectionString, channel, onNotify, onError });
      await listener.start();
      listeners.add(listener);
      return async () => {
        listeners.delete(listener);
        await listener.close();
      };
    },
    close: async () => {
      await Promise.all([...listeners].map((listener) => listener.close()));
      await pool.end();
    },
  };
}
