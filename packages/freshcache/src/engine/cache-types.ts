import type { Entry } from '../seams/entry.js';
import type { CacheSettingsInput } from './cache-options-schema.js';
import { CACHE_DEFAULTS } from './cache-options-schema.js';
import type { LocalSeq } from './sequences.js';

export type Strategy = 'eager' | 'lazy';
/** HIT: fresh from a cache tier. MISS: read from the source. STALE: old value served while it is revalidated. */
export type CacheState = 'HIT' | 'MISS' | 'STALE';
export type Tier = 'l1' | 'l2' | 'origin';

export interface Lookup<T = unknown> {
  value: T;
  state: CacheState;
  tier: Tier;
  version: number | undefined;
  tags: readonly string[];
  /** How old the value is: time since it was read from the source. */
  ageMs: number;
}

/** What a loader may tell the cache about the value it returns. */
export interface LoadContext {
  readonly key: string;
  /**
   * Aborted when the load is no longer wanted: it ran past `loadTimeoutMs`, or an invalidation of
   * the key overtook it (the cache reads again instead). Pass it on to the database driver or
   * `fetch`, so that an abandoned read does not run on against the source.
   */
  readonly signal: AbortSignal;
  /** The origin's version of the value; lets readers see which version they got. */
  version?: number;
  /** Tags the value belongs to; a purge of any of them invalidates it. */
  tags?: string[];
  ttlMs?: number;
  staleAfterMs?: number;
}

export type Loader<T> = (context: LoadContext) => Promise<T> | T;

export interface WriteOptions {
  ttlMs?: number;
  /** Serve STALE (and revalidate) after this long, until ttlMs. */
  staleAfterMs?: number;
  tags?: readonly string[];
  version?: number;
}

/** What `set` takes: a write's options, and the log position it follows, if any. */
export interface SetOptions extends WriteOptions {
  /**
   * The log position of the invalidation event this write follows (its writer published the
   * event first, then wrote): the entry is dated at it, so a cache that applied that event trusts
   * the value, and any later event that matches it invalidates it. Meant for a shared L2, which
   * keeps the position; in L1, until this cache reaches the position, the value lasts only until
   * the event lands (it is then read again from the shared L2).
   */
  position?: number;
}

export interface InvalidateOptions {
  /** The log event it comes from, applied in log order (it dates entries of a shared L2). */
  position?: number;
  /** False: leave the named keys in L2 to whoever deletes them there once for all nodes. */
  l2?: boolean;
  /**
   * The version rule: for key targets of inserts and updates of a versioned table, the origin
   * version the change wrote. An entry or fill of that key holding it or newer is kept; an older
   * one, one without a version, and every other target are dropped as always.
   */
  keyVersions?: Readonly<Record<string, number>>;
}

/**
 * The settings a cache runs with (the schema's, every one set); `configure` changes them. See
 * cache-options-schema.ts for each one's meaning and limits.
 */
export type CacheSettings = Required<CacheSettingsInput>;

export const DEFAULTS: Readonly<CacheSettings> = CACHE_DEFAULTS;

/** An entry dated in this cache's own sequence: every L1 entry, and a fill before it is stored. */
export interface LocalEntry extends Entry {
  /** The sequence at which its value was read from the source. */
  generation: LocalSeq;
}

/** An L1 entry also remembers the sequence at which it was last found valid, so most hits check one number. */
export interface L1Entry extends LocalEntry {
  verifiedSeq: LocalSeq;
}

export type Verdict = 'fresh' | 'stale' | 'invalid';

/** An entry as the key explorer shows it: which tier holds it and whether it may be served. */
export interface Described {
  key: string;
  entry: Entry;
  tier: 'l1' | 'l2';
  state: Verdict;
}

/** A page of the key explorer. */
export interface ExplorerPage {
  /** Sorted by key within the page; no order across pages. */
  items: Described[];
  /** Present while the walk is not over; pass it back for the next page. */
  cursor?: string;
  /** Keys this call examined (matching or not). */
  examined: number;
  /** Why the page ended: `limit` items found, the budget of keys examined spent, or the end of the keys. */
  stoppedBy: 'limit' | 'budget' | 'end';
}

/** What a purge would hit now (a dry run). */
export interface MatchResult {
  /** Up to `limit` of the matching keys, sorted. */
  keys: string[];
  /** Matching keys found. */
  total: number;
  /** The budget of keys examined ran out first: more keys may match, `total` is a lower bound. */
  partial: boolean;
}

export function toLookup(entry: Entry, state: CacheState, tier: Tier, now: number): Lookup {
  return { value: entry.value, state, tier, version: entry.version, tags: entry.tags, ageMs: Math.max(0, now - entry.createdAt) };
}
