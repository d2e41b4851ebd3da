import type { Entry } from './entry.js';

/**
 * The in-process tier (L1) of a cache: a bounded map of entries. It is synchronous, so that a hit
 * never waits a tick (bentocache's L1 driver is synchronous for the same reason). Like `Store`, it
 * keeps entries as given: expiry and invalidation are the engine's to judge, with the clock reading
 * it already holds, so a LocalStore needs no clock. What it decides is which entries to evict when
 * it is full.
 */
export interface LocalStore {
  /**
   * The entry under `key`, or undefined when absent. Counts as a use (recency, frequency) for
   * eviction. It may be past its `expiresAt`. It is the very object written, never a copy: the
   * engine keeps bookkeeping on it (when it last found it valid).
   */
  read(key: string): Entry | undefined;
  /** As `read`, without counting as a use: for looking around (key explorer, dry run). */
  peek(key: string): Entry | undefined;
  /** Stores the entry, replacing any previous one under `key`. May evict others to stay within bounds. */
  write(key: string, entry: Entry): void;
  /** Removes the key; returns true when it was there. */
  remove(key: string): boolean;
  /** Removes every entry before it returns. */
  clear(): void;
  /** Every key held, expired ones included, in no particular order. Not to be mixed with writes or removals while iterating. */
  keys(): Iterable<string>;
  /** How many entries it holds now. */
  readonly entries: number;
  /** How many bytes it holds now: the sum of its entries' `size` (at least 1 each). */
  readonly bytes: number;
}
