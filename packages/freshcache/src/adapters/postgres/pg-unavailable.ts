import { FreshcacheError } from '../../engine/errors.js';

/** SQLSTATEs that mean the server cannot serve now: connection exceptions (08…), shutting down, starting up, too many connections. */
const UNAVAILABLE_STATE = /^(08...|57P0[123]|53300)$/;

/** Messages of `pg` for a connection that was lost or never made (they carry no code). */
const LOST_CONNECTION = /Connection terminated|timeout exceeded when trying to connect|connection error/i;

/**
 * What a PostgreSQL adapter throws for `error`: `origin_unavailable` (with the original as
 * `cause`) when the database could not be reached or cannot serve now; anything else, a bad query
 * or a constraint violation, passes unchanged (the caller knows what it means).
 */
export function pgFailure(what: string, error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof FreshcacheError) return error;
  const code = (error as { code?: unknown }).code;
  const unreachable =
    typeof code === 'string' ? UNAVAILABLE_STATE.test(code) || /^E[A-Z]+$/.test(code) : LOST_CONNECTION.test(error.message);
  return unreachable ? new FreshcacheError('origin_unavailable', `${what}: PostgreSQL is unavailable (${error.message})`, { cause: error }) : error;
}
