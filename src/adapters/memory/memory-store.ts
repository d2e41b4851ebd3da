import { LRUCache } from 'lru-cache';
import type { Clock } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { Entry } from '../../seams/entry.js';
import { FreshcacheError } from '../../engine/errors.js';
import type { ScanOptions, ScanPage, ScannedEntry, Store, StoreCapabilities } from '../../seams/store.js';
import { LfuMap } from './lfu-map.js';
import { MemoryLeases } from './memory-leases.js';
import { smallestKeys } from './smallest-keys.js';

export type EvictionPolicy = 'lru' | 'lfu';

export interface MemoryStoreOptions {
  name?: string;
  /**
   * Handed to several caches in this process, as nodes share a region's Redis: the caches then
   * date its entries by log position. For tests and the simulator.
   */
  shared?: boolean;
  policy?: EvictionPolicy;
  /** Most entries held; the least valuable is evicted beyond it. */
  maxEntries?: number;
  /** Most bytes held (sum of entry sizes). */
  maxBytes?: number;
  clock?: Clock;
  /** Called for entries pushed out by the bounds (not for deletes or expiry). */
  onEvict?: (key: string) => void;
}

/** The operations both eviction policies share. */
interface EntryMap {
  get(key: string): Entry | undefined;
  peek(key: string): Entry | undefined;
  set(key: string, entry: Entry): void;
  delete(key: string): boolean;
  clear(): void;
  keys(): Iterable<string>;
  readonly size: number;
  readonly bytes: number;
}

function lruMap(maxEntries: number, maxBytes: number, onEvict?: (key: string) => void): EntryMap {
  const lru = new LRUCache<string, Entry>({
    max: maxEntries,
    maxSize: maxBytes,
    sizeCalculation: (entry) => Math.max(1, entry.size),
    dispose: onEvict ? (_value, key, reason) => reason === 'evict' && onEvict(key) : undefined,
  });
  return {
    get: (key) => lru.get(key),
    peek: (key) => lru.peek(key),
    set: (key, entry) => void lru.set(key, entry),
    delete: (key) => lru.delete(key),
    clear: () => lru.clear(),
    keys: () => lru.keys(),
    get size() {
      return lru.size;
    },
    get bytes() {
      return lru.calculatedSize;
    },
  };
}

/**
 * An in-process store bounded by entries and bytes, with LRU (lru-cache) or LFU eviction. It is
 * the L1 of every node and the embedded L2 of a region. Besides the async `Store` seam it offers
 * synchronous `peek`/`read`/`write`, which the engine uses for L1 so a hit never waits a tick.
 */
export class MemoryStore implements Store {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  readonly leases: MemoryLeases | undefined;
  readonly policy: EvictionPolicy;
  private readonly map: EntryMap;
  private readonly clock: Clock;

  constructor(options: MemoryStoreOptions = {}) {
    this.name = options.name ?? 'memory';
    this.capabilities = { inProcess: true, shared: options.shared ?? false };
    this.policy = options.policy ?? 'lru';
    this.clock = options.clock ?? systemClock;
    this.leases = options.shared ? new MemoryLeases(this.clock, (key, entry) => this.map.set(key, entry)) : undefined;
    const maxEntries = options.maxEntries ?? 10_000;
    const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.map =
      this.policy === 'lfu'
        ? new LfuMap<Entry>({ maxEntries, maxBytes, sizeOf: (e) => Math.max(1, e.size), onEvict: options.onEvict })
        : lruMap(maxEntries, maxBytes, options.onEvict);
  }

  /** Synchronous read that counts as a use (recency / frequency). Expired entries are dropped. */
  read(key: string): Entry | undefined {
    const entry = this.map.get(key);
    if (entry !== undefined && entry.expiresAt <= this.clock.now()) {
      this.map.delete(key);
      return undefined;
    }
    return entry;
  }

  /**
   * Synchronous read that counts as a use and skips the expiry check: for a caller that checks
   * expiry itself with a clock reading it already holds (the engine's hit path).
   */
  readUnchecked(key: string): Entry | undefined {
    return this.map.get(key);
  }

  /** Synchronous read that does not count as a use. */
  peek(key: string): Entry | undefined {
    const entry = this.map.peek(key);
    return entry !== undefined && entry.expiresAt > this.clock.now() ? entry : undefined;
  }

  write(key: string, entry: Entry): void {
    this.map.set(key, entry);
  }

  remove(key: string): boolean {
    return this.map.delete(key);
  }

  /** Every key held (expired ones included), in no particular order: for whole-store passes. */
  keys(): Iterable<string> {
    return this.map.keys();
  }

  get entries(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.map.bytes;
  }

  async get(key: string): Promise<Entry | undefined> {
    return this.read(key);
  }

  async set(key: string, entry: Entry): Promise<void> {
    this.leases?.revoke(key);
    this.map.set(key, entry);
  }

  async delete(key: string): Promise<boolean> {
    this.leases?.revoke(key);
    return this.map.delete(key);
  }

  async clear(): Promise<void> {
    this.map.clear();
  }

  async scan({ prefix = '', cursor, limit }: ScanOptions): Promise<ScanPage> {
    // In key order, and the cursor is the last key examined: a stable position while keys come
    // and go, so this store returns each key present for the whole walk exactly once. Each call
    // walks every key to pick the next `limit` (O(n log limit)): callers that know a store is
    // in-process ask for large pages.
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const now = this.clock.now();
    const examined = smallestKeys(this.map.keys(), limit, (key) => key.startsWith(prefix) && (after === undefined || key > after));
    const entries: ScannedEntry[] = [];
    for (const key of examined.keys) {
      const entry = this.map.peek(key);
      if (entry && entry.expiresAt > now) entries.push({ key, entry });
    }
    const last = examined.keys[examined.keys.length - 1];
    return examined.more && last !== undefined ? { entries, cursor: encodeCursor(last) } : { entries };
  }

  async size(): Promise<{ entries: number; bytes: number }> {
    return { entries: this.map.size, bytes: this.map.bytes };
  }

  async close(): Promise<void> {
    this.map.clear();
  }
}

// A cursor is the key in UTF-16, which holds any JavaScript string exactly (UTF-8 would not).
function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf16le').toString('base64url');
}

/** The key a cursor of `scan` stands for; anything `scan` did not hand out is a bad request. */
function decodeCursor(cursor: string): string {
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.length % 2 !== 0 || bytes.toString('base64url') !== cursor) throw new FreshcacheError('bad_request', 'cursor is not one this store handed out');
  return bytes.toString('utf16le');
}
