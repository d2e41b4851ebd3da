import type { Entry } from './entry.js';

/** A key to remove from a store; with `version`, only unless its entry holds that origin version or newer. */
export interface KeyDrop {
  key: string;
  version?: number;
}

/** What a store can do, declared by the store instead of guessed by the engine. */
export interface StoreCapabilities {
  /** Lives in this process: reads are synchronous and cost nanoseconds. */
  readonly inProcess: boolean;
  /** Shared between the nodes of a region. */
  readonly shared: boolean;
}

export interface ScanOptions {
  /** Only keys that start with this. */
  prefix?: string;
  /** The `cursor` of the previous page, passed back unchanged; absent to start. */
  cursor?: string;
  /**
   * The page's budget: about how many keys the store examines in this call, 1..10,000. A store
   * that reads keys in groups (Redis SCAN reads whole hash buckets) may examine, and return, a
   * few more. Keys examined include those that turn out not to match or to have expired, so a
   * page may hold fewer entries than this, even none, and still carry a cursor.
   */
  limit: number;
}

export interface ScannedEntry {
  key: string;
  entry: Entry;
}

export interface ScanPage {
  /** The live entries among the keys examined, with their keys, in no particular order. */
  entries: ScannedEntry[];
  /** Present until the scan is over; pass it back unchanged for the next page. */
  cursor?: string;
}

/**
 * Fill leases of a shared store: when several nodes miss the same key at once, one of them takes
 * the key's lease and loads it from the origin; the others wait for its fill. A lease also
 * guards against stale sets across nodes: a `set` or `delete` of the key (an invalidation
 * applied to the shared tier) revokes it, so a fill read before that change is not written.
 */
export interface FillLeases {
  /** Takes the key's lease for `ttlMs`; resolves its token, or undefined when another node holds it. */
  acquire(key: string, ttlMs: number): Promise<string | undefined>;
  /** Writes `entry` only if `token` still holds the key's lease, and releases it; resolves whether it wrote. */
  fill(key: string, token: string, entry: Entry): Promise<boolean>;
  /** Gives the lease up without writing (the load failed), if `token` still holds it. */
  release(key: string, token: string): Promise<void>;
}

/**
 * A tier of cached entries (L1 or L2). Stores keep entries as given; deciding whether an entry is
 * fresh (expiry, invalidation) is the engine's work, so every store behaves the same.
 */
export interface Store {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  /** Present on a store shared by several nodes. `set` and `delete` of a key revoke its lease. */
  readonly leases?: FillLeases;
  /** The entry, or undefined when absent. Never returns an entry past its `expiresAt`. */
  get(key: string): Promise<Entry | undefined>;
  /** Stores the entry, replacing any previous one. May evict others to stay within bounds. */
  set(key: string, entry: Entry): Promise<void>;
  /** Removes the key; resolves true when it was there. */
  delete(key: string): Promise<boolean>;
  /**
   * Removes each key, except one whose entry holds its drop's origin `version` or newer (the
   * version rule, in one step), in as few round trips as the store can: a region applying a
   * change of a thousand rows removes a thousand keys. Resolves how many it removed. Optional:
   * without it the engine removes them key by key, reading each versioned entry first.
   */
  dropMany?(drops: readonly KeyDrop[]): Promise<number>;
  /**
   * The part of the store that holds `key` and fails on its own (a Redis Cluster primary), so a
   * caller can stop calling that part alone. Optional: undefined, or absent, is one part.
   */
  partitionOf?(key: string): string | undefined;
  /** The parts `partitionOf` names now: a failover or a resharding changes them. */
  partitions?(): readonly string[];
  /** Removes every entry. */
  clear(): Promise<void>;
  /**
   * One page of a walk through the live entries whose key starts with `prefix`, with their
   * values, so a caller never reads a listed key again. Following `cursor` until it is absent
   * visits every key, with these guarantees and no others:
   *   - at least once: a key present and live from the first page to the last is returned; a
   *     key may be returned more than once (Redis's SCAN repeats keys when its table shrinks),
   *     so callers remove duplicates; a key added or removed during the walk may or may not be;
   *     an entry is returned only if it is live when its page is read;
   *   - unordered: no order within a page or across pages;
   *   - opaque cursor: pass back only what the store handed out; a malformed one rejects with a
   *     `bad_request` FreshcacheError (a cursor is a position, never a permission);
   *   - bounded: one call does about `limit` keys' worth of work, however few of them match.
   */
  scan(options: ScanOptions): Promise<ScanPage>;
  /** Entries and bytes held now. */
  size(): Promise<{ entries: number; bytes: number }>;
  close(): Promise<void>;
}
