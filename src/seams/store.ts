import type { Entry } from '../engine/entry.js';

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
  /** Opaque position returned by the previous page. */
  cursor?: string;
  /** Page size, 1..1000. */
  limit: number;
}

export interface ScanPage {
  keys: string[];
  /** Present when there may be more keys. */
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
  /** Removes every entry. */
  clear(): Promise<void>;
  /** Pages through keys in a stable order; a key present for the whole scan is returned once. */
  scan(options: ScanOptions): Promise<ScanPage>;
  /** Entries and bytes held now. */
  size(): Promise<{ entries: number; bytes: number }>;
  close(): Promise<void>;
}
