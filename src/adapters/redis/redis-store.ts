import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import type { Clock } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { Entry } from '../../engine/entry.js';
import type { ScanOptions, ScanPage, Store, StoreCapabilities } from '../../seams/store.js';
import { assertNamespace, entryPattern, keyFromSlotKey, slotKey } from './redis-keys.js';
import { LEASE_SUFFIX, RedisLeases } from './redis-leases.js';

/** KEYS: entry, lease. ARGV: entry JSON, ttl ms. A write revokes a fill lease in progress. */
const SET = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
`;

/** KEYS: entry, lease. Resolves whether the entry was there. */
const DELETE = `
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
return existed
`;

export interface RedisStoreOptions {
  redis: Redis | Cluster;
  /**
   * Namespace of this store's keys, so several stores (regions) share one Redis. No braces: the
   * cache key is the hash tag (see redis-keys.ts).
   */
  prefix?: string;
  clock?: Clock;
  name?: string;
}

/**
 * The shared tier (L2) on Redis, standalone or Cluster. An entry is one JSON string with its
 * version, tags and expiry, at `<prefix>{<key>}` (redis-keys.ts), so the entry and the companion
 * keys other adapters keep for it share a hash slot. Redis expires it at its hard expiry (PX), and
 * reads also check the expiry against the engine's clock, so a store behaves the same under a
 * fake clock.
 *
 * Listing keys (`scan`, `size`, `clear`) walks the namespace with SCAN: O(keys), meant for the
 * key explorer and admin, never for the read path. `scan` sorts what it finds so that a cursor
 * (the last key returned) is stable: Redis's own SCAN cursor may repeat keys.
 */
export class RedisStore implements Store {
  readonly name: string;
  readonly capabilities: StoreCapabilities = { inProcess: false, shared: true };
  readonly leases: RedisLeases;
  private readonly redis: Redis | Cluster;
  private readonly prefix: string;
  private readonly clock: Clock;

  constructor(options: RedisStoreOptions) {
    this.redis = options.redis;
    this.prefix = options.prefix ?? 'freshcache:';
    assertNamespace(this.prefix);
    this.clock = options.clock ?? systemClock;
    this.name = options.name ?? 'redis';
    this.leases = new RedisLeases(this.redis, this.prefix, this.clock);
  }

  async get(key: string): Promise<Entry | undefined> {
    const json = await this.redis.get(slotKey(this.prefix, key));
    if (json === null) return undefined;
    const entry = JSON.parse(json) as Entry;
    return entry.expiresAt > this.clock.now() ? entry : undefined;
  }

  async set(key: string, entry: Entry): Promise<void> {
    const ttlMs = Math.ceil(entry.expiresAt - this.clock.now());
    if (ttlMs <= 0) {
      await this.delete(key);
      return;
    }
    await this.redis.eval(SET, 2, slotKey(this.prefix, key), slotKey(this.prefix, key, LEASE_SUFFIX), JSON.stringify(entry), ttlMs);
  }

  async delete(key: string): Promise<boolean> {
    return ((await this.redis.eval(DELETE, 2, slotKey(this.prefix, key), slotKey(this.prefix, key, LEASE_SUFFIX))) as number) > 0;
  }

  async clear(): Promise<void> {
    const keys = await this.namespaceKeys('');
    // One key per command: in a cluster, a multi-key DEL must stay within one hash slot.
    for (const key of keys) await this.redis.unlink(slotKey(this.prefix, key));
  }

  async scan({ prefix = '', cursor, limit }: ScanOptions): Promise<ScanPage> {
    const now = this.clock.now();
    const keys = (await this.namespaceKeys(prefix)).filter((k) => cursor === undefined || k > cursor).sort();
    const page: string[] = [];
    for (const key of keys) {
      if (page.length === limit) break;
      if (await this.get(key).then((e) => e !== undefined && e.expiresAt > now)) page.push(key);
    }
    const last = page[page.length - 1];
    return last !== undefined && keys.indexOf(last) < keys.length - 1 ? { keys: page, cursor: last } : { keys: page };
  }

  async size(): Promise<{ entries: number; bytes: number }> {
    let entries = 0;
    let bytes = 0;
    for (const key of await this.namespaceKeys('')) {
      const entry = await this.get(key);
      if (!entry) continue;
      entries++;
      bytes += entry.size;
    }
    return { entries, bytes };
  }

  async close(): Promise<void> {
    // The connection belongs to whoever made it; a store never closes a shared client.
  }

  /** Keys of this namespace (without the namespace) that start with `prefix`. */
  private async namespaceKeys(prefix: string): Promise<string[]> {
    const pattern = entryPattern(this.prefix, prefix);
    // A cluster's keys are spread over its masters, and SCAN walks one node.
    const nodes = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    const found = new Set<string>();
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        for (const name of batch) {
          const key = keyFromSlotKey(this.prefix, name);
          if (key !== undefined) found.add(key);
        }
        cursor = next;
      } while (cursor !== '0');
    }
    return [...found];
  }
}
