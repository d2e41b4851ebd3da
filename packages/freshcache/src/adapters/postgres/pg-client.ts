import pg from 'pg';
import type { SqlClient } from './sql-client.js';
import { PgListener } from './pg-listener.js';
import { pgFailure } from './pg-unavailable.js';

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
 * PostgreSQL through `pg`. Queries use a pool; LISTEN needs a
 * connection of its own, held for as long as someone listens, and re-established when lost.
 */
export async function createPgClient(options: PgClientOptions): Promise<SqlClient & { pool: pg.Pool }> {
  const onError = options.onError ?? (() => {});
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.max ?? 10, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle client's error (the server restarting) must not crash the process; the next query reconnects.
  pool.on('error', onError);
  // One round trip now, so that an unreachable server fails the start rather than a first read.
  await pool.query('SELECT 1').catch(async (error: unknown) => {
    await pool.end().catch(() => {});
    throw error;
  });
  const listeners = new Set<PgListener>();
  return {
    pool,
    query: async <R>(sql: string, params?: unknown[]) => {
      try {
        const result = await pool.query(sql, params);
        return { rows: result.rows as R[] };
      } catch (error) {
        throw pgFailure('query', error);
      }
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
