import { ReplyError } from 'ioredis';
import { FreshcacheError } from '../../engine/errors.js';

/** Redis replies that mean "not now" (loading, failing over, no quorum), not "you asked wrong". */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|CLUSTERDOWN|MASTERDOWN|READONLY|TRYAGAIN|NOREPLICAS)\b/;

/**
 * What a Redis adapter throws for `error`: a coded FreshcacheError (with the original as `cause`)
 * when Redis could not be reached or could not answer now, so that callers map codes, not ioredis
 * classes. Everything else passes unchanged: a bug (a bad reply, a script error, unparsable JSON)
 * must not look like an outage.
 */
export function redisFailure(code: 'store_unavailable' | 'log_unavailable', what: string, error: unknown): unknown {
  if (error instanceof FreshcacheError || error instanceof SyntaxError || error instanceof TypeError || error instanceof RangeError) return error;
  if (!(error instanceof Error)) return error;
  if (error instanceof ReplyError && !UNAVAILABLE_REPLY.test(error.message)) return error;
  return new FreshcacheError(code, `${what}: Redis is unavailable (${error.message})`, { cause: error });
}
