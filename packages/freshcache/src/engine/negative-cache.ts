/** "The loader said this key does not exist", remembered for a short while. */
export interface NegativeEntry {
  /** The loader's not_found message, so a remembered answer reads like the first one. */
  message: string;
  /** Tags the loader set before it said not_found: a purge of any of them forgets the answer. */
  tags: readonly string[];
  /** This cache's sequence when the read began: a newer matching mark forgets the answer. */
  generation: number;
  createdAt: number;
  expiresAt: number;
}

/**
 * The keys a loader recently said do not exist, bounded by count. Kept apart from L1 on purpose:
 * a flood of unknown ids would otherwise evict the working set of real values, trading one load
 * per unknown id for reloads of the hot keys. When full, the oldest answer is forgotten first
 * (answers live a few seconds, so insertion order is close to expiry order).
 */
export class NegativeCache {
  private readonly entries = new Map<string, NegativeEntry>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): NegativeEntry | undefined {
    return this.entries.get(key);
  }

  set(key: string, entry: NegativeEntry): void {
    // Delete first: re-setting a key moves it to the young end of the insertion order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
