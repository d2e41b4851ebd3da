import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Clock } from '../../engine/clock.js';
import type { Entry } from '../../seams/entry.js';
import type { Serializer } from '../../seams/serializer.js';
import type { FillLeases } from '../../seams/store.js';
import { redisFailure } from './redis-unavailable.js';
import { slotKey } from './redis-keys.js';

/** The lease of a key lives next to its entry (same hash slot), so one script can check one and write the other. */
export const LEASE_SUFFIX = ':lease';

/** KEYS: entry, lease. ARGV: token, serialized entry, ttl ms. Writes only while the token holds the lease. */
const FILL = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1
`;

/** KEYS: lease. ARGV: token. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Fill leases on Redis: SET NX PX takes a lease, a script fills only while its token holds it.
 * RedisStore's `set` and `delete` remove the lease in the same script as the entry, so a fill
 * that read the origin before a change applied to the shared tier is refused.
 */
export class RedisLeases implements FillLeases {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly clock: Clock,
    /** The store's: a filled entry is written as its `set` writes one. */
    private readonly serializer: Serializer,
  ) {}

  async acquire(key: string, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const taken = await this.redis.set(slotKey(this.prefix, key, LEASE_SUFFIX), token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX').catch(failed('acquire'));
    return taken === 'OK' ? token : undefined;
  }

  async fill(key: string, token: string, entry: Entry): Promise<boolean> {
    const ttlMs = Math.ceil(entry.expiresAt - this.clock.now());
    if (ttlMs <= 0) {
      await this.release(key, token);
      return false;
    }
    const written = await this.redis.eval(FILL, 2, slotKey(this.prefix, key), slotKey(this.prefix, key, LEASE_SUFFIX), token, this.serializer.serialize(entry), ttlMs).catch(failed('fill'));
    return written === 1;
  }

  async release(key: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, slotKey(this.prefix, key, LEASE_SUFFIX), token).catch(failed('release'));
  }
}

/** Rethrows an unreachable Redis as `store_unavailable` (the leases live in the shared tier). */
function failed(operation: string): (error: unknown) => never {
  return (error) => {
    throw redisFailure('store_unavailable', `lease ${operation}`, error);
  };
}
