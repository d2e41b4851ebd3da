import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import type { Clock } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { Entry } from '../../seams/entry.js';
import { FreshcacheError } from '../../engine/errors.js';
import { typedJsonSerializer } from '../../engine/typed-json-serializer.js';
import type { Serializer } from '../../seams/serializer.js';
import type { KeyDrop, ScanOptions, ScanPage, ScannedEntry, Store, StoreCapabilities } from '../../seams/store.js';
import { clusterSlot } from './cluster-slot.js';
import { assertNamespace, entryPattern, keyFromSlotKey, slotKey } from './redis-keys.js';
import { LEASE_SUFFIX, RedisLeases } from './redis-leases.js';
import { redisFailure } from './redis-unavailable.js';

/** KEYS: entry, lease. ARGV: serialized entry, ttl ms. A write revokes a fill lease in progress. */
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

/**
 * KEYS: entry and lease of each key, in pairs. ARGV: each key's version, or '' for none. Deletes
 * each pair unless the entry holds that version or newer; resolves how many entries it deleted.
 * An entry this script cannot read (another serializer's) is deleted: that only costs a load.
 */
const DROP_MANY = `
local dropped = 0
for i = 1, #ARGV do
  local keep = false
  if ARGV[i] ~= '' then
    local raw = redis.call('GET', KEYS[2 * i - 1])
    if raw then
      local ok, entry = pcall(cjson.decode, raw)
      keep = ok and type(entry) == 'table' and type(entry['version']) == 'number' and entry['version'] >= tonumber(ARGV[i])
    end
  end
  if not keep then
    dropped = dropped + redis.call('DEL', KEYS[2 * i - 1])
    redis.call('DEL', KEYS[2 * i])
  end
end
return dropped
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
  /**
   * Writes each entry as `serialize(entry)` (default: typedJsonSerializer, JSON that keeps Date,
   * BigInt and Buffer). Every store sharing the namespace, and the caches using them, need the same.
   */
  serializer?: Serializer;
}

/**
 * The shared tier (L2) on Redis, standalone or Cluster. An entry is one string, the serializer's
 * text of the entry with its value, version, tags and expiry (JSON by default), at
 * `<prefix>{<key>}` (redis-keys.ts), so the entry and the companion
 * keys other adapters keep for it share a hash slot. Redis expires it at its hard expiry (PX), and
 * reads also check the expiry against the engine's clock, so a store behaves the same under a
 * fake clock.
 *
 * Listing keys (`scan`, `size`, `clear`) walks the namespace with SCAN MATCH, node by node (each
 * master of a cluster, in address order; a standalone Redis is one node), and reads the entries
 * it finds with one pipeline of GETs per node (an MGET across hash tags would fail with
 * CROSSSLOT). A `scan` call is one SCAN step, so a walk costs about one SCAN per `limit` keys and
 * one GET per key found. Its cursor is `{ node, cursor }`, base64url JSON. If that node is no
 * longer a master (a failover), the walk starts over, repeating keys rather than missing any;
 * during a resharding a key moving to a node already walked can be missed.
 */
export class RedisStore implements Store {
  readonly name: string;
  readonly capabilities: StoreCapabilities = { inProcess: false, shared: true };
  readonly leases: RedisLeases;
  private readonly redis: Redis | Cluster;
  private readonly prefix: string;
  private readonly clock: Clock;
  private readonly serializer: Serializer;

  constructor(options: RedisStoreOptions) {
    this.redis = options.redis;
    this.prefix = options.prefix ?? 'freshcache:';
    assertNamespace(this.prefix);
    this.clock = options.clock ?? systemClock;
    this.name = options.name ?? 'redis';
    this.serializer = options.serializer ?? typedJsonSerializer;
    this.leases = new RedisLeases(this.redis, this.prefix, this.clock, this.serializer);
  }

  /**
   * On a Cluster, the primary that serves `key`'s slot as this client last learnt it (`host:port`);
   * a failover or a resharding moves the key to another. Undefined on a standalone Redis, or
   * before the client knows the slot map.
   */
  partitionOf(key: string): string | undefined {
    if (!(this.redis instanceof Cluster)) return undefined;
    return this.redis.slots[clusterSlot(slotKey(this.prefix, key))]?.[0];
  }

  /** On a Cluster, the primaries that serve slots, as this client last learnt them; [] on a standalone Redis. */
  partitions(): string[] {
    if (!(this.redis instanceof Cluster)) return [];
    return [...new Set(this.redis.slots.map((owners) => owners[0]).filter((owner) => owner !== undefined))];
  }

  get(key: string): Promise<Entry | undefined> {
    return this.reach('get', async () => {
      const text = await this.redis.get(slotKey(this.prefix, key));
      const entry = text === null ? undefined : decodeEntry(this.serializer, text);
      return entry !== undefined && entry.expiresAt > this.clock.now() ? entry : undefined;
    });
  }

  set(key: string, entry: Entry): Promise<void> {
    return this.reach('set', async () => {
      const ttlMs = Math.ceil(entry.expiresAt - this.clock.now());
      if (ttlMs <= 0) {
        await this.delete(key);
        return;
      }
      await this.redis.eval(SET, 2, slotKey(this.prefix, key), slotKey(this.prefix, key, LEASE_SUFFIX), this.serializer.serialize(entry), ttlMs);
    });
  }

  delete(key: string): Promise<boolean> {
    return this.reach('delete', async () => ((await this.redis.eval(DELETE, 2, slotKey(this.prefix, key), slotKey(this.prefix, key, LEASE_SUFFIX))) as number) > 0);
  }

  /**
   * Standalone: one script call for all the drops. Cluster: a script call per key (a script's keys
   * must share a slot), all sent at once; each follows its own MOVED/ASK while slots move.
   */
  dropMany(drops: readonly KeyDrop[]): Promise<number> {
    return this.reach('delete', async () => {
      const calls = this.redis instanceof Cluster ? drops.map((drop) => [drop]) : [drops];
      const counts = await Promise.all(
        calls.map((call) =>
          this.redis.eval(DROP_MANY, call.length * 2, [
            ...call.flatMap(({ key }) => [slotKey(this.prefix, key), slotKey(this.prefix, key, LEASE_SUFFIX)]),
            ...call.map(({ version }) => (version === undefined ? '' : String(version))),
          ]),
        ),
      );
      return counts.reduce<number>((sum, count) => sum + Number(count), 0);
    });
  }

  clear(): Promise<void> {
    return this.reach('clear', () => this.clearAll());
  }

  scan(options: ScanOptions): Promise<ScanPage> {
    return this.reach('scan', () => this.scanStep(options));
  }

  size(): Promise<{ entries: number; bytes: number }> {
    return this.reach('size', () => this.measure());
  }

  async close(): Promise<void> {
    // The connection belongs to whoever made it; a store never closes a shared client.
  }

  /** Runs one operation; an unreachable Redis leaves it as `store_unavailable`, with the cause. */
  private async reach<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw redisFailure('store_unavailable', `${this.name} ${operation}`, error);
    }
  }

  private async clearAll(): Promise<void> {
    for await (const { node, names } of this.walk(entryPattern(this.prefix), 1000)) {
      // UNLINK one key per command: in a cluster, a multi-key command must stay within one hash slot.
      const pipeline = node.pipeline();
      for (const name of names) pipeline.unlink(name);
      const results = (await pipeline.exec()) ?? [];
      // A key whose slot moved since the SCAN: the cluster client follows the redirection.
      for (const [i, [error]] of results.entries()) if (error) await this.redis.unlink(names[i]!);
    }
  }

  private async scanStep({ prefix = '', cursor, limit }: ScanOptions): Promise<ScanPage> {
    const nodes = this.scanNodes();
    let { index, position } = resumeAt(nodes, cursor);
    const node = nodes[index]!;
    const [next, names] = await node.client.scan(position, 'MATCH', entryPattern(this.prefix, prefix), 'COUNT', limit);
    const entries = await this.read(node.client, names);
    if (next === '0') {
      index++;
      position = '0';
    } else {
      position = next;
    }
    return index < nodes.length ? { entries, cursor: encodeCursor({ node: nodes[index]!.id, cursor: position }) } : { entries };
  }

  private async measure(): Promise<{ entries: number; bytes: number }> {
    // SCAN may return a key twice: count each once.
    const sizes = new Map<string, number>();
    for await (const { node, names } of this.walk(entryPattern(this.prefix), 1000)) {
      for (const { key, entry } of await this.read(node, names)) sizes.set(key, entry.size);
    }
    let bytes = 0;
    for (const size of sizes.values()) bytes += size;
    return { entries: sizes.size, bytes };
  }

  /** The masters to walk, in a stable order: a cluster's by address, or the one standalone server. */
  private scanNodes(): ScanNode[] {
    if (!(this.redis instanceof Cluster)) return [{ id: '', client: this.redis }];
    const masters = this.redis.nodes('master');
    if (masters.length === 0) throw new FreshcacheError('store_unavailable', 'no Redis Cluster master is known (the cluster is not connected)');
    return masters
      .map((client) => ({ id: `${client.options.host}:${client.options.port}`, client }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Every SCAN step over every node: the Redis names it found there. */
  private async *walk(pattern: string, count: number): AsyncGenerator<{ node: Redis; names: string[] }> {
    for (const { client } of this.scanNodes()) {
      let position = '0';
      do {
        const [next, names] = await client.scan(position, 'MATCH', pattern, 'COUNT', count);
        if (names.length > 0) yield { node: client, names };
        position = next;
      } while (position !== '0');
    }
  }

  /** The live entries stored under `names`, read from `node` with one pipeline. */
  private async read(node: Redis, names: string[]): Promise<ScannedEntry[]> {
    if (names.length === 0) return [];
    const pipeline = node.pipeline();
    for (const name of names) pipeline.get(name);
    const results = (await pipeline.exec()) ?? [];
    const now = this.clock.now();
    const entries: ScannedEntry[] = [];
    for (const [i, [error, reply]] of results.entries()) {
      const name = names[i]!;
      const key = keyFromSlotKey(this.prefix, name);
      if (key === undefined) continue;
      // A key whose slot moved since the SCAN: the cluster client follows the redirection.
      const text = error ? await this.redis.get(name) : (reply as string | null);
      const entry = text === null ? undefined : decodeEntry(this.serializer, text);
      if (entry !== undefined && entry.expiresAt > now) entries.push({ key, entry });
    }
    return entries;
  }
}

/**
 * The entry `text` holds, or undefined (a miss, which the next fill replaces) for text this
 * serializer cannot read: written with another serializer, or not an entry at all.
 */
function decodeEntry(serializer: Serializer, text: string): Entry | undefined {
  let entry: unknown;
  try {
    entry = serializer.deserialize(text);
  } catch {
    return undefined;
  }
  const { expiresAt } = (entry ?? {}) as Partial<Entry>;
  return typeof expiresAt === 'number' ? (entry as Entry) : undefined;
}

interface ScanNode {
  /** `host:port` of a cluster master; empty for a standalone server. */
  id: string;
  client: Redis;
}

interface ScanCursor {
  node: string;
  cursor: string;
}

const MAX_SCAN_CURSOR = 2n ** 64n - 1n;

function encodeCursor(cursor: ScanCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** Where a walk resumes: the cursor's node and SCAN position, or the start when that node is gone. */
function resumeAt(nodes: ScanNode[], cursor: string | undefined): { index: number; position: string } {
  if (cursor === undefined) return { index: 0, position: '0' };
  const { node, cursor: position } = decodeCursor(cursor);
  const index = nodes.findIndex((n) => n.id === node);
  return index < 0 ? { index: 0, position: '0' } : { index, position };
}

function decodeCursor(cursor: string): ScanCursor {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    decoded = undefined;
  }
  const { node, cursor: position } = (decoded ?? {}) as Partial<ScanCursor>;
  // SCAN's cursor is an unsigned 64-bit number: Redis answers anything else with an error.
  if (typeof node !== 'string' || typeof position !== 'string' || !/^\d{1,20}$/.test(position) || BigInt(position) > MAX_SCAN_CURSOR) {
    throw new FreshcacheError('bad_request', 'cursor is not one this store handed out');
  }
  return { node, cursor: position };
}
