import type { CacheStats } from './cache-stats.js';
import type { CacheSettings } from './cache-types.js';
import type { Clock } from './clock.js';
import { FreshcacheError } from './errors.js';
import type { Generations } from './generations.js';
import type { LocalSeq } from './sequences.js';

/** "The loader said this key does not exist", remembered for a short while. */
export interface NegativeEntry {
  /** The loader's not_found message, so a remembered answer reads like the first one. */
  message: string;
  /** Tags the loader set before it said not_found: a purge of any of them forgets the answer. */
  tags: readonly string[];
  /** This cache's sequence when the read began: a newer matching mark forgets the answer. */
  generation: LocalSeq;
  createdAt: number;
  expiresAt: number;
}

/**
 * Not-found answers held at most: a few thousand cover the unknown ids a flood can repeat within
 * a few seconds.
 */
const MAX_ENTRIES = 10_000;

/**
 * The keys a loader recently said do not exist (`negativeTtlMs`), bounded by count. Kept apart
 * from L1 on purpose: a flood of unknown ids would otherwise evict the working set of real
 * values, trading one load per unknown id for reloads of the hot keys. When full, the oldest
 * answer is forgotten first (answers live a few seconds, so insertion order is close to expiry
 * order). Only in this process, not in L2: the Store seam has no way to say "absent" that every
 * adapter, the lease fill and a node of an older version sharing the L2 would all read as absent
 * rather than as a value. Each node therefore loads an unknown key once per `negativeTtlMs`.
 */
export class NegativeCache {
  private readonly entries = new Map<string, NegativeEntry>();

  constructor(
    private readonly parts: { generations: Generations; clock: Clock; stats: CacheStats; settings: CacheSettings },
    private readonly maxEntries = MAX_ENTRIES,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * The remembered not_found of `key`, as a fresh error, when it is still young and no
   * invalidation since its read matches it; it is forgotten otherwise. An invalidated one is
   * never served, even by the lazy strategy: answering "no such record" after the INSERT that
   * created it is worse than one more load.
   */
  recall(key: string): FreshcacheError | undefined {
    if (this.entries.size === 0) return undefined;
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const mark = this.parts.generations.newestFor(key, entry.tags);
    if (entry.expiresAt <= this.parts.clock.now() || (mark !== undefined && mark.seq > entry.generation)) {
      this.entries.delete(key);
      return undefined;
    }
    this.parts.stats.negativeHits++;
    return new FreshcacheError('not_found', entry.message);
  }

  /**
   * Remembers a loader's not_found for `negativeTtlMs`, unless an invalidation that matches the
   * key overtook the read (the stale-set guard, as for a value): then it answers 'overtaken'.
   */
  remember(key: string, error: FreshcacheError, tags: readonly string[], readAt: LocalSeq): 'kept' | 'overtaken' {
    const { generations, clock, settings } = this.parts;
    const overtakenBy = generations.newestFor(key, tags);
    if (overtakenBy !== undefined && overtakenBy.seq > readAt) return 'overtaken';
    if (settings.negativeTtlMs <= 0) return 'kept';
    const now = clock.now();
    generations.keepFor(settings.negativeTtlMs);
    this.set(key, { message: error.message, tags: [...tags], generation: readAt, createdAt: now, expiresAt: now + settings.negativeTtlMs });
    return 'kept';
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
