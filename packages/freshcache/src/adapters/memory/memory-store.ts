import { LRUCache } from 'lru-cache';
import type { Clock } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { Entry } from '../../seams/entry.js';
import { scanInKeyOrder } from '../../engine/key-order-scan.js';
import type { LocalStore } from '../../seams/local-store.js';
import type { Serializer } from '../../seams/serializer.js';
import type { ScanOptions, ScanPage, Store, StoreCapabilities } from '../../seams/store.js';
import { LfuMap } from './lfu-map.js';
import { MemoryLeases } from './memory-leases.js';

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
  /**
   * For a store used as an L2 (the `Store` methods): keep each value as `serialize(value)` and
   * decode it on every read, so that it hands out copies with the types Redis would give back,
   * never the writer's live object. The `LocalStore` methods (L1) ignore it: L1 keeps objects.
   */
  serializer?: Serializer;
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
 * the L1 of every node (the synchronous `LocalStore` seam, so a hit never waits a tick) and the
 * embedded L2 of a region (the async `Store` seam).
 */
export class MemoryStore implements Store, LocalStore {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  readonly leases: MemoryLeases | undefined;
  readonly policy: EvictionPolicy;
  private readonly map: EntryMap;
  private readonly clock: Clock;
  private readonly serializer: Serializer | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    this.name = options.name ?? 'memory';
    this.capabilities = { inProcess: true, shared: options.shared ?? false };
    this.policy = options.policy ?? 'lru';
    this.clock = options.clock ?? systemClock;
    this.serializer = options.serializer;
    this.leases = options.shared ? new MemoryLeases(this.clock, (key, entry) => this.map.set(key, this.encode(entry))) : undefined;
    const maxEntries = options.maxEntries ?? 10_000;
    const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.map =
      this.policy === 'lfu'
        ? new LfuMap<Entry>({ maxEntries, maxBytes, sizeOf: (e) => Math.max(1, e.size), onEvict: options.onEvict })
        : lruMap(maxEntries, maxBytes, options.onEvict);
  }

  // LocalStore: synchronous, entries as written (expired ones too; the engine judges them).

  read(key: string): Entry | undefined {
    return this.map.get(key);
  }

  peek(key: string): Entry | undefined {
    return this.map.peek(key);
  }

  write(key: string, entry: Entry): void {
    this.map.set(key, entry);
  }

  remove(key: string): boolean {
    return this.map.delete(key);
  }

  keys(): Iterable<string> {
    return this.map.keys();
  }

  get entries(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.map.bytes;
  }

  // Store: asynchronous; never returns an entry past its expiresAt.

  async get(key: string): Promise<Entry | undefined> {
    const entry = this.map.get(key);
    if (entry !== undefined && entry.expiresAt <= this.clock.now()) {
      this.map.delete(key);
      return undefined;
    }
    return entry === undefined ? undefined : this.decode(entry);
  }

  async set(key: string, entry: Entry): Promise<void> {
    const stored = this.encode(entry);
    this.leases?.revoke(key);
    this.map.set(key, stored);
  }

  async delete(key: string): Promise<boolean> {
    this.leases?.revoke(key);
    return this.map.delete(key);
  }

  /** Empties the store before it returns (the promise is for `Store`): `LocalStore.clear` too. */
  async clear(): Promise<void> {
    this.map.clear();
  }

  async scan(options: ScanOptions): Promise<ScanPage> {
    const page = scanInKeyOrder(this.map.keys(), (key) => this.map.peek(key), options, this.clock.now());
    if (this.serializer !== undefined) for (const scanned of page.entries) scanned.entry = this.decode(scanned.entry);
    return page;
  }

  async size(): Promise<{ entries: number; bytes: number }> {
    return { entries: this.map.size, bytes: this.map.bytes };
  }

  async close(): Promise<void> {
    this.map.clear();
  }

  /** What the map keeps for a `Store` write: the entry, its value as the serializer's text. */
  private encode(entry: Entry): Entry {
    return this.serializer === undefined ? entry : { ...entry, value: this.serializer.serialize(entry.value) };
  }

  /** A `Store` read: a new entry with a new value, decoded from that text. */
  private decode(stored: Entry): Entry {
    return this.serializer === undefined ? stored : { ...stored, value: this.serializer.deserialize(stored.value as string) };
  }
}
