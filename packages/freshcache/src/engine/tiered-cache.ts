import type { Entry } from '../seams/entry.js';
import type { LocalStore } from '../seams/local-store.js';
import type { FillLeases, ScannedEntry, Store } from '../seams/store.js';
import { CacheStats } from './cache-stats.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { entrySize, jsonByteLength } from './entry-size.js';
import { FreshcacheError } from './errors.js';
import type { InvalidationTargets, Mark } from './generations.js';
import { Generations, versionOf } from './generations.js';
import { scanInKeyOrder } from './key-order-scan.js';
import type { KeyTemplate } from './key-template.js';
import type { Definition, TemplateLoaders, TemplateParams } from './loader-registry.js';
import { LoaderRegistry } from './loader-registry.js';
import { NegativeCache } from './negative-cache.js';
import type { NegativeEntry } from './negative-cache.js';
import { SingleFlight } from './single-flight.js';

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

export interface TieredCacheOptions {
  /** Shown in errors and logs; the region name in a topology. */
  name?: string;
  /** The in-process tier; its owner wires its evictions to `stats.l1Evictions`. */
  l1: LocalStore;
  l2?: Store;
  clock?: Clock;
  strategy?: Strategy;
  /** Lazy strategy: an invalidated entry is served STALE for at most this long after the invalidation. */
  maxStaleMs?: number;
  defaultTtlMs?: number;
  maxTtlMs?: number;
  loadTimeoutMs?: number;
  maxKeyBytes?: number;
  maxValueBytes?: number;
  /**
   * How long a loader's `not_found` is remembered: reads of the key within it answer `not_found`
   * without calling the loader. 0 turns it off. Invalidations of the key (or of a tag the loader
   * set before throwing, a prefix, or all) forget it, like any entry.
   */
  negativeTtlMs?: number;
  stats?: CacheStats;
  /** Called when a background revalidation fails (the stale value stays until it expires). */
  onRevalidateError?: (key: string, error: unknown) => void;
}

/** An L1 entry remembers the sequence at which it was last found valid, so most hits check one number. */
interface L1Entry extends Entry {
  verifiedSeq: number;
}

type Verdict = 'fresh' | 'stale' | 'invalid';

/** An entry as the key explorer shows it: which tier holds it and whether it may be served. */
export interface Described {
  key: string;
  entry: Entry;
  tier: 'l1' | 'l2';
  state: Verdict;
}

/**
 * Loads whose fill was refused, with the sequence at which their read began. Not the sequence of
 * the invalidation that overtook them: marks keep only the newest, and a later one would hide
 * the invalidation a reader who joined the load had already seen.
 */
const refusals = new WeakMap<Lookup, number>();
/** The same for loads that said `not_found`: the error thrown, with the sequence its read began at. */
const notFoundRefusals = new WeakMap<object, number>();
/**
 * Not-found answers held at most: they live apart from L1 (NegativeCache says why), and a few
 * thousand cover the unknown ids a flood can repeat within a few seconds.
 */
const NEGATIVE_MAX_ENTRIES = 10_000;
const MAX_REREADS = 3;
/** Keys `loadMany` loads at once through a template without its own `loadMany`. */
const LOAD_MANY_CONCURRENCY = 8;
/** Keys the explorer examines per call, so a filter that matches nothing cannot stall the process. */
const SCAN_BUDGET = 5000;
/** Keys a dry run examines per call; past it, the count it gives is a lower bound. */
const MATCH_BUDGET = 100_000;
/** Keys asked of a store per page by a dry run. */
const MATCH_PAGE = 1000;

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

export const DEFAULTS = Object.freeze({
  strategy: 'eager' as Strategy,
  maxStaleMs: 30_000,
  defaultTtlMs: 300_000,
  maxTtlMs: 86_400_000,
  loadTimeoutMs: 10_000,
  maxKeyBytes: 512,
  maxValueBytes: 1024 * 1024,
  negativeTtlMs: 5_000,
});

/**
 * The engine: an in-process L1 over a shared L2, read-through with single flight, invalidated by
 * key, tag or prefix through generation marks (O(1) per purge), guarded against stale sets.
 */
export class TieredCache {
  readonly name: string;
  readonly stats: CacheStats;
  readonly l1: LocalStore;
  readonly l2: Store | undefined;
  /** L2 is read by other nodes too: its entries carry log positions instead of this cache's sequence. */
  private readonly sharedL2: boolean;
  strategy: Strategy;
  maxStaleMs: number;
  defaultTtlMs: number;
  private readonly clock: Clock;
  private readonly generations = new Generations();
  private readonly flights = new SingleFlight<Lookup>();
  private readonly loaders = new LoaderRegistry();
  private readonly maxTtlMs: number;
  private readonly loadTimeoutMs: number;
  private readonly maxKeyBytes: number;
  private readonly maxValueBytes: number;
  readonly negativeTtlMs: number;
  /** Keys the loader said do not exist; only in this process (see `rememberNotFound`). */
  private readonly negatives = new NegativeCache(NEGATIVE_MAX_ENTRIES);
  private readonly onRevalidateError: (key: string, error: unknown) => void;
  private lastPruneAt = 0;
  /** The longest TTL any entry got: no entry outlives it, so no older mark is needed. */
  private longestTtlMs = 0;

  constructor(options: TieredCacheOptions) {
    this.name = options.name ?? 'cache';
    this.clock = options.clock ?? systemClock;
    this.stats = options.stats ?? new CacheStats();
    this.l1 = options.l1;
    this.l2 = options.l2;
    this.sharedL2 = options.l2?.capabilities.shared ?? false;
    this.strategy = options.strategy ?? DEFAULTS.strategy;
    this.maxStaleMs = options.maxStaleMs ?? DEFAULTS.maxStaleMs;
    this.defaultTtlMs = options.defaultTtlMs ?? DEFAULTS.defaultTtlMs;
    this.maxTtlMs = options.maxTtlMs ?? DEFAULTS.maxTtlMs;
    this.loadTimeoutMs = options.loadTimeoutMs ?? DEFAULTS.loadTimeoutMs;
    this.maxKeyBytes = options.maxKeyBytes ?? DEFAULTS.maxKeyBytes;
    this.maxValueBytes = options.maxValueBytes ?? DEFAULTS.maxValueBytes;
    this.negativeTtlMs = options.negativeTtlMs ?? DEFAULTS.negativeTtlMs;
    this.onRevalidateError = options.onRevalidateError ?? (() => {});
  }

  /** The value cached under `key` (fresh or STALE), without loading. */
  get<T = unknown>(key: string): Promise<T | undefined> {
    // The hit path: one map read, one clock read, two comparisons. staleAt <= expiresAt, so an
    // entry before its soft expiry is also before its hard one.
    const entry = this.l1.read(key) as L1Entry | undefined;
    if (entry !== undefined && entry.verifiedSeq === this.generations.seq && entry.staleAt > this.clock.now()) {
      this.stats.l1Hits++;
      return Promise.resolve(entry.value as T);
    }
    // Not in L1 at all: straight to L2, without building the Lookup `lookup` would make.
    if (entry === undefined) return this.valueFromL2(key) as Promise<T | undefined>;
    return this.lookup<T>(key).then((found) => found?.value);
  }

  /**
   * A fresh L1 hit, synchronously, or undefined (absent, STALE, invalid, or only in L2): for a
   * caller that answers the common case without a promise and sends the rest to `lookupOrLoad`.
   */
  peekFresh<T = unknown>(key: string): Lookup<T> | undefined {
    const entry = this.l1.read(key) as L1Entry | undefined;
    if (entry === undefined || entry.verifiedSeq !== this.generations.seq) return undefined;
    const now = this.clock.now();
    if (entry.staleAt <= now) return undefined;
    this.stats.l1Hits++;
    return this.toLookup(entry, 'HIT', 'l1', now) as Lookup<T>;
  }

  /** Like `get`, with where the value came from, its state, version and age. */
  async lookup<T = unknown>(key: string): Promise<Lookup<T> | undefined> {
    this.assertKey(key);
    const fromL1 = this.readL1(key);
    if (fromL1) return fromL1 as Lookup<T>;
    const fromL2 = await this.readL2(key);
    if (!fromL2) this.stats.misses++;
    return fromL2 as Lookup<T> | undefined;
  }

  /**
   * Registers the loader of every key that matches `template` (`user:{id}`); see LoaderRegistry
   * for the overlap rule. Readers may then call `getOrLoad(key)` with no loader, and `load` /
   * `loadMany` (warming, refresh-ahead) can load those keys. Returns the parsed template, to
   * render keys with.
   */
  define<T>(template: string, loaders: TemplateLoaders<T>): KeyTemplate {
    return this.loaders.define(template, loaders as TemplateLoaders);
  }

  /**
   * The cached value, or the loader's (cached for next time). Concurrent misses share one load.
   * Without `loader`, the defined template that matches `key` loads it (`no_loader` when none does).
   */
  getOrLoad<T>(key: string, loader?: Loader<T>, options: WriteOptions = {}): Promise<T> {
    if (loader === undefined) {
      try {
        this.assertKey(key);
        loader = this.definedLoader(key) as Loader<T>;
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const entry = this.l1.read(key) as L1Entry | undefined;
    if (entry !== undefined && entry.verifiedSeq === this.generations.seq && entry.staleAt > this.clock.now()) {
      this.stats.l1Hits++;
      return Promise.resolve(entry.value as T);
    }
    return this.lookupOrLoad(key, loader, options).then((found) => found.value);
  }

  /** Like `getOrLoad`, with where the value came from, its state, version and age. */
  lookupOrLoad<T>(key: string, loader?: Loader<T>, options: WriteOptions = {}): Promise<Lookup<T>> {
    let use: Loader<unknown>;
    try {
      this.assertKey(key);
      use = (loader as Loader<unknown> | undefined) ?? this.definedLoader(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.lookupOrLoadValid(key, use, options, 0) as Promise<Lookup<T>>;
  }

  /**
   * Reads `key` from the source through its defined template's loader, whatever the cache holds,
   * and fills both tiers: for a warming job or a refresh-ahead. It shares a load in flight for the
   * key (readers' or another `load`'s), and like every fill it is refused when an invalidation of
   * the key overtook the read (the value is returned, the cache keeps nothing). `no_loader`
   * when no defined template matches the key.
   */
  load<T = unknown>(key: string): Promise<T> {
    let loader: Loader<unknown>;
    try {
      this.assertKey(key);
      loader = this.definedLoader(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.reload(key, loader).then((found) => found.value as T);
  }

  /**
   * `load` for several keys. The keys of a template with `loadMany` are loaded by one call of it
   * (keys already loading join their load instead); the others go through `load` one by one, at
   * most LOAD_MANY_CONCURRENCY at a time. Refuses the whole call, loading nothing, when any key
   * has no defined template (`no_loader`) or is not a valid key. The result is aligned with
   * `keys`: each key's value, or why it failed.
   */
  async loadMany<T = unknown>(keys: readonly string[]): Promise<PromiseSettledResult<T>[]> {
    const groups = new Map<Definition, { keys: string[]; params: TemplateParams[] }>();
    const seen = new Set<string>();
    for (const key of keys) {
      this.assertKey(key);
      const { definition, params } = this.loaders.resolve(key);
      if (seen.has(key)) continue;
      seen.add(key);
      const group = groups.get(definition) ?? { keys: [], params: [] };
      group.keys.push(key);
      group.params.push(params);
      groups.set(definition, group);
    }
    const loads = new Map<string, Promise<Lookup>>();
    const oneByOne: { key: string; loader: Loader<unknown> }[] = [];
    for (const [definition, group] of groups) {
      if (definition.loaders.loadMany) {
        for (const [key, load] of this.batchLoad(definition, group.keys, group.params)) loads.set(key, load);
      } else {
        group.keys.forEach((key, i) => oneByOne.push({ key, loader: templateLoader(definition, group.params[i]!) }));
      }
    }
    // A pool of workers over the queue: bounded concurrency for loaders that take one key at a time.
    const workers = Array.from({ length: Math.min(LOAD_MANY_CONCURRENCY, oneByOne.length) }, async () => {
      for (let next = oneByOne.shift(); next !== undefined; next = oneByOne.shift()) {
        const load = this.reload(next.key, next.loader);
        loads.set(next.key, load);
        await load.catch(() => {});
      }
    });
    await Promise.all(workers);
    const settled = new Map<string, PromiseSettledResult<T>>();
    for (const [key, load] of loads) {
      settled.set(
        key,
        await load.then(
          (found): PromiseSettledResult<T> => ({ status: 'fulfilled', value: found.value as T }),
          (reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason }),
        ),
      );
    }
    return keys.map((key) => settled.get(key)!);
  }

  /** The loader of the defined template that matches `key`; `no_loader` when none does. */
  private definedLoader(key: string): Loader<unknown> {
    const { definition, params } = this.loaders.resolve(key);
    return templateLoader(definition, params);
  }

  /** Reads `key` through `loader` and fills, in the key's single flight (joining one in flight). */
  private reload(key: string, loader: Loader<unknown>): Promise<Lookup> {
    return this.flights.run(key, () => this.fill(key, loader, {}, this.generations.seq));
  }

  /**
   * Loads the keys of one template with one call of its `loadMany`, each key through its own
   * single flight and the one fill path. Keys already loading join that load and stay out of the
   * call. The call is made once every key's fill has handed over its LoadContext.
   */
  private batchLoad(definition: Definition, keys: string[], params: TemplateParams[]): Map<string, Promise<Lookup>> {
    const loads = new Map<string, Promise<Lookup>>();
    const batch: { key: string; params: TemplateParams }[] = [];
    keys.forEach((key, i) => {
      // reload() of a key in flight joins that flight: its loader is never called.
      if (this.flights.has(key)) loads.set(key, this.reload(key, templateLoader(definition, params[i]!)));
      else batch.push({ key, params: params[i]! });
    });
    const contexts: LoadContext[] = [];
    let waiting = batch.length;
    let settle!: { resolve: (values: readonly unknown[]) => void; reject: (error: unknown) => void };
    const values = new Promise<readonly unknown[]>((resolve, reject) => (settle = { resolve, reject }));
    const source = definition.template.source;
    const call = async () => {
      const got = await definition.loaders.loadMany!(
        batch.map((b) => b.params),
        contexts,
      );
      if (!Array.isArray(got) || got.length !== batch.length) {
        throw new FreshcacheError('origin_unavailable', `loadMany of ${JSON.stringify(source)} returned ${Array.isArray(got) ? got.length : 'no array of'} values for ${batch.length} keys`);
      }
      return got as readonly unknown[];
    };
    batch.forEach(({ key }, i) => {
      const loader: Loader<unknown> = (context) => {
        contexts[i] = context;
        if (--waiting === 0) call().then(settle.resolve, settle.reject);
        return values.then((all) => {
          if (all[i] === undefined) throw new FreshcacheError('not_found', `loadMany of ${JSON.stringify(source)} found no value for ${JSON.stringify(key)}`);
          return all[i];
        });
      };
      loads.set(key, this.reload(key, loader));
    });
    return loads;
  }

  private lookupOrLoadValid(key: string, loader: Loader<unknown>, options: WriteOptions, retries: number): Promise<Lookup> {
    // A reader who arrives after an invalidation must not be handed a value read before it.
    const arrival = this.generations.seq;
    const fromL1 = this.readL1(key);
    if (fromL1) {
      if (fromL1.state === 'STALE') this.revalidate(key, loader, options);
      return Promise.resolve(fromL1);
    }
    const notFound = this.negatives.size === 0 ? undefined : this.rememberedNotFound(key);
    if (notFound) return Promise.reject(notFound);
    return this.flights.run(key, () => this.missPath(key, loader, options)).then((found) => {
      // Revalidate once the miss path's own flight is over; the first waiter starts it, the rest join it.
      if (found.state === 'STALE') this.revalidate(key, loader, options);
      // The flight's read, overtaken by an invalidation, began before this reader arrived: the
      // invalidation may be one this reader already saw, so read again. Bounded, so a key
      // invalidated faster than it loads still answers.
      const began = refusals.get(found);
      if (began !== undefined && began < arrival && retries < MAX_REREADS) {
        return this.lookupOrLoadValid(key, loader, options, retries + 1);
      }
      return found;
    }, (error: unknown) => {
      // Likewise for a not_found read before an invalidation this reader saw (the INSERT's).
      const began = typeof error === 'object' && error !== null ? notFoundRefusals.get(error) : undefined;
      if (began !== undefined && began < arrival && retries < MAX_REREADS) {
        return this.lookupOrLoadValid(key, loader, options, retries + 1);
      }
      throw error;
    });
  }

  /**
   * The remembered not_found of `key`, as a fresh error, when it is still young and no
   * invalidation since its read matches it; it is forgotten otherwise. An invalidated one is
   * never served, even by the lazy strategy: answering "no such record" after the INSERT that
   * created it is worse than one more load.
   */
  private rememberedNotFound(key: string): FreshcacheError | undefined {
    const entry = this.negatives.get(key);
    if (entry === undefined) return undefined;
    const mark = this.generations.newestFor(key, entry.tags);
    if (entry.expiresAt <= this.clock.now() || (mark !== undefined && mark.seq > entry.generation)) {
      this.negatives.delete(key);
      return undefined;
    }
    this.stats.negativeHits++;
    return new FreshcacheError('not_found', entry.message);
  }

  /**
   * Remembers a loader's not_found for `negativeTtlMs`, unless an invalidation that matches the
   * key overtook the read (the stale-set guard, as for a value). Only in this process, not in
   * L2: the Store seam has no way to say "absent" that every adapter, the lease fill and a node
   * of an older version sharing the L2 would all read as absent rather than as a value. Each
   * node therefore loads an unknown key once per `negativeTtlMs`, not once per read.
   */
  private rememberNotFound(key: string, error: FreshcacheError, context: LoadContext, options: WriteOptions, generation: number): void {
    const tags = context.tags ?? options.tags ?? [];
    const overtakenBy = this.generations.newestFor(key, tags);
    if (overtakenBy !== undefined && overtakenBy.seq > generation) {
      this.stats.staleSetsRefused++;
      notFoundRefusals.set(error, generation);
      return;
    }
    if (this.negativeTtlMs <= 0) return;
    const now = this.clock.now();
    // Marks must outlive the answers they can forget (pruning goes by the longest TTL).
    if (this.negativeTtlMs > this.longestTtlMs) this.longestTtlMs = this.negativeTtlMs;
    const entry: NegativeEntry = { message: error.message, tags: [...tags], generation, createdAt: now, expiresAt: now + this.negativeTtlMs };
    this.negatives.set(key, entry);
    // The source says the key is gone: an L1 copy (one being revalidated) is no longer to be served.
    this.l1.remove(key);
  }

  /** Not-found answers held now (each forgotten at its expiry, an invalidation, or when full). */
  get negativeCount(): number {
    return this.negatives.size;
  }

  /** Writes a value to L2 and L1 (dated at `options.position` when given: see SetOptions). */
  async set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    this.assertKey(key);
    // A load of this key in flight read the source before this write: make its fill a stale set.
    // Only then, so that ordinary writes leave the sequence (and every L1 hit's fast path) alone.
    const raced = this.flights.has(key) ? this.generations.apply({ keys: [key] }, this.clock.now()).seq : 0;
    const { position } = options;
    // This cache's sequence at `position`; undefined when older than this cache can judge.
    const dated = position === undefined ? this.generations.seq : this.generations.seqAtPosition(position);
    const entry = this.makeEntry(key, value, options, Math.max(dated ?? 0, raced));
    // Even when L1 is not written (a position this cache has not reached): the key now has a value.
    this.negatives.delete(key);
    if (this.l2 && this.sharedL2 && position !== undefined) await this.l2.set(key, { ...entry, generation: position });
    else if (this.l2 && dated !== undefined) await this.writeL2(key, entry);
    if (dated !== undefined) this.writeL1(key, entry);
  }

  /** Removes a key from both tiers of this cache now (no invalidation event). */
  async delete(key: string): Promise<boolean> {
    this.assertKey(key);
    // As for set(): a load in flight must not put back what it read before this delete.
    if (this.flights.has(key)) this.generations.apply({ keys: [key] }, this.clock.now());
    this.negatives.delete(key);
    const inL1 = this.l1.remove(key);
    const inL2 = this.l2 ? await this.l2.delete(key) : false;
    return inL1 || inL2;
  }

  /**
   * Applies an invalidation now: O(1) per tag or prefix, O(1) per key. Eager: matching entries
   * are gone for readers at once. Lazy: they are served STALE, revalidated on first read, and
   * never after `maxStaleMs`. A fill whose read began before this is refused (stale-set guard).
   * `position`: the log event it comes from, applied in log order (it dates entries of a shared
   * L2). `l2: false` leaves the named keys in L2 to whoever applies the event to L2 once for all
   * nodes (a region's consumer group); reads judge them by the mark either way.
   */
  async invalidate(targets: InvalidationTargets, options: InvalidateOptions = {}): Promise<Mark> {
    const { keyVersions } = options;
    const mark = this.generations.apply(targets, this.clock.now(), options);
    this.stats.invalidationsApplied++;
    if (targets.all) this.stats.flushes++;
    if (this.strategy === 'eager') {
      // Keys are named one by one, so reclaiming their memory now costs what the purge already costs.
      const inL2 = this.l2 !== undefined && options.l2 !== false;
      const failures: unknown[] = [];
      for (const key of targets.keys ?? []) {
        this.negatives.delete(key);
        const version = versionOf(keyVersions, key);
        // The version rule: an entry already as new as the change stays (its key mark spares it).
        if (!holdsVersion(this.l1.peek(key), version)) this.l1.remove(key);
        // One unreachable key must not keep the others in L2: try each, then report.
        if (inL2) await this.dropFromL2(key, keyVersions).catch((error: unknown) => failures.push(error));
      }
      this.pruneMarks();
      if (failures.length > 0) {
        throw new FreshcacheError('store_unavailable', `${failures.length} of the purged keys could not be deleted from L2; reads still refuse them`, {
          cause: failures[0],
        });
      }
      return mark;
    }
    this.pruneMarks();
    return mark;
  }

  /**
   * Deletes `key` from L2, unless `keyVersions` gives it a version the L2 entry already holds or beats
   * (the version rule). Read, then delete: a value written in between is deleted too, which only
   * costs a load; reads judge what is kept by the key's mark either way.
   */
  async dropFromL2(key: string, keyVersions?: Readonly<Record<string, number>>): Promise<void> {
    const version = versionOf(keyVersions, key);
    if (version !== undefined && holdsVersion(await this.l2!.get(key), version)) return;
    await this.l2!.delete(key);
  }

  /**
   * Drops everything this cache can no longer vouch for: every entry it holds, every load in
   * flight, and the entries of a shared L2 read before log position `trustFrom` (default: the
   * position reached). After a gap in the log pass the first position still held; Infinity
   * distrusts every shared entry until `trustFrom` is called with a real position.
   */
  async flush(trustFrom?: number): Promise<Mark> {
    const mark = await this.invalidate({ all: true });
    this.l1.clear();
    this.negatives.clear();
    this.generations.distrustBefore(trustFrom ?? this.generations.position, this.clock.now());
    return mark;
  }

  /** Trusts shared entries read at or after `position` again (the first event of a new log). */
  trustFrom(position: number): void {
    this.generations.distrustBefore(position, this.clock.now());
  }

  /** The newest log position this cache applied. */
  get position(): number {
    return this.generations.position;
  }

  /**
   * Keys whose entries an invalidation would hit now (a dry run: nothing changes). Named keys are
   * looked up; prefixes are walked in L2 with the store's own prefix filter; a tag (or `all`)
   * walks every key. Each L2 key is read once, by the walk itself, and at most MATCH_BUDGET L2
   * keys (`budget`) are examined: past that the answer is `partial`. L1 is in-process and
   * bounded, so it is always read whole.
   */
  async matching(targets: InvalidationTargets, limit = 1000, budget = MATCH_BUDGET): Promise<MatchResult> {
    const found = new Set<string>();
    const named = new Set(targets.keys ?? []);
    const tags = new Set(targets.tags ?? []);
    const prefixes = targets.prefixes ?? [];
    const hits = (key: string, entry: Entry) =>
      targets.all === true || named.has(key) || prefixes.some((p) => key.startsWith(p)) || entry.tags.some((t) => tags.has(t));

    const lookups = await Promise.all([...named].map(async (key) => ({ key, entry: this.liveInL1(key) ?? (await this.l2?.get(key)) })));
    for (const { key, entry } of lookups) if (entry) found.add(key);

    const walks = targets.all || tags.size > 0 ? [''] : outermost(prefixes);
    if (walks.length === 0) return { ...firstKeys(found, limit), partial: false };
    for (const key of this.l1.keys()) {
      const entry = this.liveInL1(key);
      if (entry && hits(key, entry)) found.add(key);
    }
    let examined = 0;
    for (const prefix of this.l2 ? walks : []) {
      let cursor: string | undefined;
      do {
        if (examined >= budget) return { ...firstKeys(found, limit), partial: true };
        // An in-process store walks all its keys on each call: ask it for the whole budget at once.
        const ask = Math.min(this.l2!.capabilities.inProcess ? budget : MATCH_PAGE, budget - examined);
        const page = await this.l2!.scan({ prefix, cursor, limit: ask });
        examined += Math.max(ask, page.entries.length);
        // A key L1 holds was judged by its L1 entry above: this node's view of it.
        for (const { key, entry } of page.entries) if (this.liveInL1(key) === undefined && hits(key, entry)) found.add(key);
        cursor = page.cursor;
      } while (cursor !== undefined);
    }
    return { ...firstKeys(found, limit), partial: false };
  }

  /**
   * A page of the key explorer: the entries whose key starts with `prefix` (and that carry
   * `tag`). It walks L2, showing each key through this node's L1 entry when it has one, then,
   * unless L2 is shared, the keys only L1 holds. A shared L2 is the region's cache; what only
   * one node's L1 still holds (Redis evicted it) is that node's leftover, and finding it would
   * cost a read of L2 per L1 key. At most `budget` keys (SCAN_BUDGET) are examined per call, so
   * a page can come back short, even empty, with a cursor to go on. The walk keeps Store.scan's
   * guarantees: a key held throughout is listed at least once, in no particular order.
   */
  async scan(options: { prefix?: string; tag?: string; cursor?: string; limit: number; budget?: number }): Promise<ExplorerPage> {
    const { prefix, tag, limit, budget = SCAN_BUDGET } = options;
    let { tier, position } = explorerPosition(options.cursor, this.l2 !== undefined);
    const items: Described[] = [];
    let examined = 0;
    let examinedTaken = 0;
    let step = limit;
    const page = (stoppedBy: ExplorerPage['stoppedBy']): ExplorerPage => {
      items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return stoppedBy === 'end' ? { items, examined, stoppedBy } : { items, cursor: `${tier}:${position ?? ''}`, examined, stoppedBy };
    };
    while (items.length < limit && examined < budget) {
      const need = limit - items.length;
      const ask = Math.min(step, budget - examined);
      const options = { prefix, cursor: position, limit: ask };
      const found = tier === 'l2' ? await this.l2!.scan(options) : scanInKeyOrder(this.l1.keys(), (key) => this.l1.peek(key), options, this.clock.now());
      examined += Math.max(ask, found.entries.length);
      const batch = await this.explorerItems(tier, found.entries, tag);
      if (items.length + batch.length > limit && ask > need) {
        // The step went further than the page can hold: try again from the same place, shorter.
        step = Math.max(need, Math.floor((ask * need) / batch.length));
        continue;
      }
      items.push(...batch);
      examinedTaken += Math.max(ask, found.entries.length);
      step = nextStep({ found: items.length, examined: examinedTaken, need: limit - items.length, last: ask, inProcess: tier === 'l1' || this.l2!.capabilities.inProcess, filtered: tag !== undefined });
      position = found.cursor;
      if (position !== undefined) continue;
      if (tier === 'l1' || this.sharedL2) return page('end');
      tier = 'l1';
    }
    return page(items.length >= limit ? 'limit' : 'budget');
  }

  /** What the explorer lists of a page of `tier`'s entries: those that carry `tag`, once across both tiers. */
  private async explorerItems(tier: 'l1' | 'l2', entries: ScannedEntry[], tag: string | undefined): Promise<Described[]> {
    if (tier === 'l2') return entries.map(({ key, entry }) => this.describeHeld(key, entry)).filter((item) => tag === undefined || item.entry.tags.includes(tag));
    const candidates = entries.filter(({ entry }) => tag === undefined || entry.tags.includes(tag));
    // A key that L2 holds was listed by the L2 walk.
    const inL2 = this.l2 ? await Promise.all(candidates.map(({ key }) => this.l2!.get(key))) : [];
    return candidates.filter((_, i) => inL2[i] === undefined).map(({ key, entry }) => this.describeL1(key, entry));
  }

  /** An entry's details for the key explorer: the entry, which tier holds it, and its state. */
  async describe(key: string): Promise<Described | undefined> {
    const inL1 = this.liveInL1(key);
    if (inL1) return this.describeL1(key, inL1);
    const stored = this.l2 === undefined ? undefined : await this.l2.get(key);
    return stored === undefined ? undefined : this.describeL2(key, stored);
  }

  /** A key found in L2, shown as this node sees it: through its L1 entry when it holds one. */
  private describeHeld(key: string, stored: Entry): Described {
    const inL1 = this.liveInL1(key);
    return inL1 ? this.describeL1(key, inL1) : this.describeL2(key, stored);
  }

  private describeL1(key: string, entry: Entry): Described {
    return { key, entry, tier: 'l1', state: this.verdict(key, entry, this.clock.now(), false) };
  }

  private describeL2(key: string, stored: Entry): Described {
    const generation = this.sharedL2 ? this.datedGeneration(stored.generation) : stored.generation;
    const state = generation < 0 ? 'invalid' : this.verdict(key, stored, this.clock.now(), false, generation);
    return { key, entry: { ...stored, generation }, tier: 'l2', state };
  }

  /** Empties both tiers. */
  async clear(): Promise<void> {
    this.l1.clear();
    this.negatives.clear();
    await this.l2?.clear();
  }

  async close(): Promise<void> {
    this.l1.clear();
    this.negatives.clear();
    await this.l2?.close();
  }

  /** Number of invalidation marks held (tags, prefixes, keys not yet pruned). */
  get markCount(): number {
    return this.generations.size;
  }

  /**
   * Marks that no live entry or running load can predate are dead weight. Pruning walks every
   * mark, so it runs at most once a minute to keep the purge itself O(1) amortised.
   */
  private pruneMarks(): void {
    const now = this.clock.now();
    if (now - this.lastPruneAt < 60_000) return;
    this.lastPruneAt = now;
    this.generations.prune(now - this.longestTtlMs - this.loadTimeoutMs);
  }

  /** L1's entry for `key` if it is not past its expiry, without counting a use: for looking around. */
  private liveInL1(key: string): Entry | undefined {
    const entry = this.l1.peek(key);
    return entry !== undefined && entry.expiresAt > this.clock.now() ? entry : undefined;
  }

  private readL1(key: string): Lookup | undefined {
    // Past its expiry it is judged invalid below, and removed.
    const entry = this.l1.read(key) as L1Entry | undefined;
    if (entry === undefined) return undefined;
    const now = this.clock.now();
    const verdict = this.verdict(key, entry, now, true);
    if (verdict === 'invalid') {
      this.l1.remove(key);
      return undefined;
    }
    if (verdict === 'stale') this.stats.staleServed++;
    else this.stats.l1Hits++;
    return this.toLookup(entry, verdict === 'stale' ? 'STALE' : 'HIT', 'l1', now);
  }

  private async readL2(key: string): Promise<Lookup | undefined> {
    const stored = this.l2 === undefined ? undefined : await this.l2.get(key);
    if (stored === undefined) return undefined;
    const now = this.clock.now();
    const state = this.admitFromL2(key, stored, now);
    if (state !== undefined) return this.toLookup(stored, state, 'l2', now);
    await this.reclaimFromL2(key);
    return undefined;
  }

  /** `readL2` for `get`, which wants only the value: the L2 hit path, kept to one async frame. */
  private async valueFromL2(key: string): Promise<unknown> {
    // Checked here, in an async function: a bad key is a rejected promise, never a throw from `get`.
    this.assertKey(key);
    const stored = this.l2 === undefined ? undefined : await this.l2.get(key);
    if (stored !== undefined) {
      if (this.admitFromL2(key, stored, this.clock.now()) !== undefined) return stored.value;
      await this.reclaimFromL2(key);
    }
    this.stats.misses++;
    return undefined;
  }

  /**
   * Judges an entry read from L2. One that may be served is copied into L1 (dated in this cache's
   * sequence) and counted, and the result says how it is served. Undefined: it may not be served.
   */
  private admitFromL2(key: string, stored: Entry, now: number): CacheState | undefined {
    const generation = this.sharedL2 ? this.datedGeneration(stored.generation) : stored.generation;
    if (generation < 0) return undefined;
    const verdict = this.verdict(key, stored, now, false, generation);
    if (verdict === 'invalid') return undefined;
    // Another node may have given it a longer TTL than any this node handed out: keep the marks
    // that can still invalidate it (pruning goes by the longest TTL this cache holds).
    const ttlLeft = stored.expiresAt - now;
    if (ttlLeft > this.longestTtlMs) this.longestTtlMs = Math.min(ttlLeft, this.maxTtlMs);
    this.writeL1(key, stored, generation);
    if (verdict === 'stale') {
      this.stats.staleServed++;
      return 'STALE';
    }
    this.stats.l2Hits++;
    return 'HIT';
  }

  /**
   * Reclaiming an entry that may not be served is housekeeping: a read that cannot delete still
   * answers (from the origin); a store that failed to delete remembers it (BreakerStore), and
   * marks refuse it meanwhile.
   */
  private async reclaimFromL2(key: string): Promise<void> {
    if (this.strategy === 'eager') await this.l2!.delete(key).catch(() => {});
  }

  private async missPath(key: string, loader: Loader<unknown>, options: WriteOptions): Promise<Lookup> {
    // Captured before reading L2 or the origin: an invalidation applied after this point is newer
    // than whatever we are about to read.
    const generation = this.generations.seq;
    const fromL2 = await this.readL2(key);
    if (fromL2) return fromL2;
    const leases = this.sharedL2 ? this.l2?.leases : undefined;
    if (leases) return this.leasedMiss(key, loader, options, leases);
    this.stats.misses++;
    return this.fill(key, loader, options, generation);
  }

  /**
   * A miss on an L2 shared by the region's nodes: one node takes the key's lease and loads; the
   * others wait for its fill (single flight across nodes). Waiting polls L2 with backoff, bounded
   * by the load timeout, and a holder that fails or dies frees the lease (release, or its expiry)
   * for the next node. If the shared tier cannot be reached, this node loads by itself.
   */
  private async leasedMiss(key: string, loader: Loader<unknown>, options: WriteOptions, leases: FillLeases): Promise<Lookup> {
    const deadline = this.clock.now() + this.loadTimeoutMs;
    let waitMs = 2;
    for (;;) {
      const generation = this.generations.seq;
      let token: string | undefined;
      try {
        token = await leases.acquire(key, this.loadTimeoutMs);
      } catch {
        break;
      }
      if (token !== undefined) {
        // Another node may have filled the key between our miss and our lease: look once more.
        // (An entry this node judges invalid does not count: it loads, under the lease.)
        const lease = { leases, token, filled: false };
        try {
          const filledMeanwhile = await this.readL2(key);
          if (filledMeanwhile) return filledMeanwhile;
          this.stats.misses++;
          return await this.fill(key, loader, options, generation, lease);
        } finally {
          // Every way out but a fill (which released it) frees the lease now, so the region's
          // other nodes need not wait for it to expire.
          if (!lease.filled) leases.release(key, token).catch(() => {});
        }
      }
      await this.pause(waitMs);
      waitMs = Math.min(waitMs * 2, 50);
      const filled = await this.readL2(key);
      if (filled) {
        this.stats.leaseWaits++;
        return filled;
      }
      if (this.clock.now() >= deadline) break;
    }
    this.stats.misses++;
    return this.fill(key, loader, options, this.generations.seq);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  private revalidate(key: string, loader: Loader<unknown>, options: WriteOptions): void {
    if (this.flights.has(key)) return;
    this.stats.revalidations++;
    this.flights
      .run(key, () => this.fill(key, loader, options, this.generations.seq))
      .catch((error: unknown) => this.onRevalidateError(key, error));
  }

  /** The one fill path: reads through `loader`, then fills both tiers unless an invalidation overtook the read. */
  private async fill(
    key: string,
    loader: Loader<unknown>,
    options: WriteOptions,
    generation: number,
    lease?: { leases: FillLeases; token: string; filled: boolean },
  ): Promise<Lookup> {
    const context: LoadContext = { key };
    let value: unknown;
    this.stats.originFetches++;
    try {
      value = await this.withTimeout(Promise.resolve(loader(context)), key);
    } catch (error) {
      // "No such record" is an answer from a healthy origin, not an origin failure.
      if (error instanceof FreshcacheError && error.code === 'not_found') this.rememberNotFound(key, error, context, options, generation);
      else this.stats.loadErrors++;
      throw error;
    }
    const now = this.clock.now();
    const entry = this.makeEntry(
      key,
      value,
      {
        ttlMs: context.ttlMs ?? options.ttlMs,
        staleAfterMs: context.staleAfterMs ?? options.staleAfterMs,
        tags: context.tags ?? options.tags,
        // Only what the loader read: the version rule keeps an entry by it, so a version the
        // caller passed, which no loader confirmed, must not stand in for it.
        version: context.version,
      },
      generation,
    );
    const lookup = this.toLookup(entry, 'MISS', 'origin', now);
    // A fill that loaded the version an overtaking change wrote (or newer) is as new as it: kept.
    const overtakenBy = this.generations.newestFor(key, entry.tags, entry.version);
    if (overtakenBy !== undefined && overtakenBy.seq > entry.generation) {
      // The read began before an invalidation that matches it was applied: the value may predate
      // the change. Callers who asked before the read began get it (it is as fresh as their
      // request); those who joined it later read again (lookupOrLoadValid); the cache keeps nothing.
      this.stats.staleSetsRefused++;
      refusals.set(lookup, generation);
      return lookup;
    }
    if (lease) {
      const filled = await lease.leases
        .fill(key, lease.token, { ...entry, generation: this.generations.positionAt(entry.generation) })
        .catch(() => undefined);
      lease.filled = filled === true;
      if (filled === false) {
        // The lease was revoked: a set or an invalidation reached the shared tier after this read
        // began. Answer the callers who asked before it, keep nothing.
        this.stats.staleSetsRefused++;
        return lookup;
      }
    } else if (this.l2) {
      await this.writeL2(key, entry);
    }
    this.writeL1(key, entry);
    return lookup;
  }

  /** A shared L2 entry's log position as a sequence of this cache; -1 when older than it can judge. */
  private datedGeneration(position: number): number {
    return this.generations.seqAtPosition(position) ?? -1;
  }

  private writeL2(key: string, entry: Entry): Promise<void> {
    return this.l2!.set(key, this.sharedL2 ? { ...entry, generation: this.generations.positionAt(entry.generation) } : entry);
  }

  /** `generation`: the entry's own, or what an L2 entry's position is in this cache's sequence. */
  private verdict(key: string, entry: Entry, now: number, isL1: boolean, generation = entry.generation): Verdict {
    if (entry.expiresAt <= now) return 'invalid';
    const seq = this.generations.seq;
    if (!isL1 || (entry as L1Entry).verifiedSeq !== seq) {
      const mark = this.generations.newestFor(key, entry.tags, entry.version);
      if (mark !== undefined && mark.seq > generation) {
        const staleSince = this.generations.firstAppliedAfter(generation);
        return this.strategy === 'lazy' && now - staleSince <= this.maxStaleMs ? 'stale' : 'invalid';
      }
      if (isL1) (entry as L1Entry).verifiedSeq = seq;
    }
    return entry.staleAt <= now ? 'stale' : 'fresh';
  }

  private writeL1(key: string, entry: Entry, generation = entry.generation): void {
    // A copy: L1 keeps its own bookkeeping (verifiedSeq) and must not alias an L2 object.
    // Built field by field, not spread: every L1 entry then shares one hidden class and the hit
    // path stays monomorphic (a spread copy measured 2-3x slower to read).
    const l1Entry: L1Entry = {
      value: entry.value,
      version: entry.version,
      tags: entry.tags,
      createdAt: entry.createdAt,
      expiresAt: entry.expiresAt,
      staleAt: entry.staleAt,
      size: entry.size,
      generation,
      verifiedSeq: -1,
    };
    this.l1.write(key, l1Entry);
    // A value found or filled outdates a remembered not_found (fills and L2 reads, not the hit path).
    this.negatives.delete(key);
  }

  private toLookup(entry: Entry, state: CacheState, tier: Tier, now: number): Lookup {
    return { value: entry.value, state, tier, version: entry.version, tags: entry.tags, ageMs: Math.max(0, now - entry.createdAt) };
  }

  private makeEntry(key: string, value: unknown, options: WriteOptions, generation: number): Entry {
    if (value === undefined) throw new FreshcacheError('bad_request', `cannot cache undefined for key "${key}"`);
    const ttlMs = options.ttlMs ?? this.defaultTtlMs;
    if (!Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > this.maxTtlMs) {
      throw new FreshcacheError('invalid_ttl', `ttl must be between 1 ms and ${this.maxTtlMs} ms, got ${ttlMs}`);
    }
    const staleAfterMs = options.staleAfterMs;
    if (staleAfterMs !== undefined && (!Number.isFinite(staleAfterMs) || staleAfterMs < 0)) {
      throw new FreshcacheError('invalid_ttl', `staleAfter must be a non-negative number of ms, got ${staleAfterMs}`);
    }
    if (ttlMs > this.longestTtlMs) this.longestTtlMs = ttlMs;
    const valueBytes = jsonByteLength(value);
    if (valueBytes > this.maxValueBytes) {
      throw new FreshcacheError('value_too_large', `value of ${valueBytes} bytes is over the limit of ${this.maxValueBytes} bytes`);
    }
    const tags = options.tags ? [...options.tags] : [];
    const now = this.clock.now();
    return {
      value,
      version: options.version,
      tags,
      createdAt: now,
      expiresAt: now + ttlMs,
      staleAt: staleAfterMs === undefined ? now + ttlMs : now + Math.min(staleAfterMs, ttlMs),
      size: entrySize(key, valueBytes, tags),
      generation,
    };
  }

  private withTimeout<T>(promise: Promise<T>, key: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => reject(new FreshcacheError('origin_unavailable', `loading "${key}" took longer than ${this.loadTimeoutMs} ms`)),
        this.loadTimeoutMs,
      );
      promise.then(
        (value) => {
          timer.cancel();
          resolve(value);
        },
        (error: unknown) => {
          timer.cancel();
          reject(error);
        },
      );
    });
  }

  private assertKey(key: string): void {
    if (typeof key !== 'string' || key.length === 0) throw new FreshcacheError('invalid_key', 'key must be a non-empty string');
    if (key.length > this.maxKeyBytes / 3 && Buffer.byteLength(key, 'utf8') > this.maxKeyBytes) {
      throw new FreshcacheError('invalid_key', `key is longer than ${this.maxKeyBytes} bytes`);
    }
  }
}

/**
 * How many keys the explorer's next store call examines: enough to find the `need` items still
 * wanted at the rate found so far. While nothing has matched, an in-process store is asked for the
 * rest of the budget at once (each call walks its keys), and Redis for four times more each step.
 * A step that finds more than the page holds is read again shorter, so a remote store without a
 * tag filter is always asked for just the items wanted: its reads are not wasted.
 */
/** Whether `entry` holds origin version `version` or newer (never when either is unknown). */
function holdsVersion(entry: Entry | undefined, version: number | undefined): boolean {
  return version !== undefined && typeof entry?.version === 'number' && entry.version >= version;
}

function nextStep(s: { found: number; examined: number; need: number; last: number; inProcess: boolean; filtered: boolean }): number {
  const { found, examined, need, last, inProcess, filtered } = s;
  if (need <= 0 || (!inProcess && !filtered)) return Math.max(1, need);
  if (found === 0) return inProcess ? Number.MAX_SAFE_INTEGER : last * 4;
  return Math.max(need, Math.ceil((need * examined) / found));
}

/** The prefixes that no other one in the list starts: walking them covers every key of the others. */
function outermost(prefixes: readonly string[]): string[] {
  const kept: string[] = [];
  for (const prefix of [...prefixes].sort()) if (!kept.some((k) => prefix.startsWith(k))) kept.push(prefix);
  return kept;
}

function firstKeys(found: Set<string>, limit: number): { keys: string[]; total: number } {
  return { keys: [...found].sort().slice(0, limit), total: found.size };
}

/**
 * Where an explorer page resumes. Its cursor is the tier being walked and that tier's own store
 * cursor (`l2:<cursor>`, `l1:<cursor>`); without one the walk starts with L2, or L1 alone.
 */
function explorerPosition(cursor: string | undefined, hasL2: boolean): { tier: 'l1' | 'l2'; position: string | undefined } {
  if (cursor === undefined) return { tier: hasL2 ? 'l2' : 'l1', position: undefined };
  const tier = cursor.slice(0, 2);
  if (cursor[2] !== ':' || (tier !== 'l1' && tier !== 'l2')) throw new FreshcacheError('bad_request', 'cursor is not one the key explorer handed out');
  const position = cursor.slice(3) || undefined;
  // A cursor from before L2 was configured away starts L1's walk.
  return tier === 'l2' && !hasL2 ? { tier: 'l1', position: undefined } : { tier, position };
}

/** A call-site style loader for one key of a defined template. */
function templateLoader(definition: Definition, params: TemplateParams): Loader<unknown> {
  return (context) => definition.loaders.load(params, context);
}
