import type { LocalStore } from '../seams/local-store.js';
import type { Serializer } from '../seams/serializer.js';
import type { KeyDrop, Store } from '../seams/store.js';
import type { CacheParts } from './cache-parts.js';
import { CacheStats } from './cache-stats.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import type { CacheSettings, Described, L1Entry, ExplorerPage, InvalidateOptions, Loader, Lookup, MatchResult, SetOptions, Strategy, WriteOptions } from './cache-types.js';
import { DEFAULTS, toLookup } from './cache-types.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { LiveSettings } from './cache-options-schema.js';
import { checkCacheOptions } from './cache-options-schema.js';
import { EntryDating } from './entry-dating.js';
import { FreshcacheError } from './errors.js';
import type { FillOutcome } from './filler.js';
import { Filler, MAX_REREADS } from './filler.js';
import type { InvalidationTargets, Mark } from './generations.js';
import { Generations, versionOf } from './generations.js';
import { KeyExplorer } from './key-explorer.js';
import type { KeyTemplate } from './key-template.js';
import type { Definition, TemplateLoaders, TemplateParams } from './loader-registry.js';
import { LoaderRegistry } from './loader-registry.js';
import { makeEntry } from './make-entry.js';
import { NegativeCache } from './negative-cache.js';
import { ReadPath } from './read-path.js';
import { typedJsonSerializer } from './typed-json-serializer.js';
import { localSeq, logPosition } from './sequences.js';
import type { Entry } from '../seams/entry.js';

export type { CacheSettings, CacheState, Described, ExplorerPage, InvalidateOptions, LoadContext, Loader, Lookup, MatchResult, SetOptions, Strategy, Tier, WriteOptions } from './cache-types.js';
export { DEFAULTS } from './cache-types.js';

export interface TieredCacheOptions extends Partial<CacheSettings> {
  /** Shown in errors and logs; the region name in a topology. */
  name?: string;
  /** The in-process tier; its owner wires its evictions to `stats.l1Evictions`. */
  l1: LocalStore;
  l2?: Store;
  clock?: Clock;
  /** The L2's serializer (default typedJsonSerializer): L1 keeps each value as it comes back from it. */
  serializer?: Serializer;
  stats?: CacheStats;
  /** Called when a background revalidation fails (the stale value stays until it expires). */
  onRevalidateError?: (key: string, error: unknown) => void;
}

/** The settings `configure` may change while the cache runs. */
export type RuntimeSettings = LiveSettings;

/** Keys `loadMany` loads at once through a template without its own `loadMany`. */
const LOAD_MANY_CONCURRENCY = 8;
/** Keys per `Store.dropMany` call: a change of many rows leaves L2 in a few round trips. */
const L2_DROP_BATCH = 256;

/**
 * The engine: an in-process L1 over a shared L2, read-through with single flight, invalidated by
 * key, tag or prefix through generation marks (O(1) per purge), guarded against stale sets.
 *
 * It is the front door over rooms that own their state: the marks (Generations), the read path
 * (ReadPath), the filler (Filler: flights, leases, timeouts, the stale-set guard), the dating of
 * L2 entries (EntryDating), the not-found memory (NegativeCache) and the key explorer.
 */
export class TieredCache {
  readonly name: string;
  readonly stats: CacheStats;
  readonly l1: LocalStore;
  readonly l2: Store | undefined;
  private readonly settings: CacheSettings;
  private readonly clock: Clock;
  private readonly generations = new Generations();
  private readonly negatives: NegativeCache;
  private readonly loaders = new LoaderRegistry();
  private readonly read: ReadPath;
  private readonly filler: Filler;
  private readonly explorer: KeyExplorer;
  private readonly parts: CacheParts;
  /**
   * L2 deletes in flight at once, across invalidations (a region's consumer group applies many
   * events at once): enough to fill a pipelined write to Redis, few enough to stay far below a
   * call timeout. Batches of a store with dropMany, or single keys of one without.
   */
  private readonly l2Batches = new ConcurrencyLimit(8);
  private readonly l2Keys = new ConcurrencyLimit(256);

  constructor(options: TieredCacheOptions) {
    checkCacheOptions(options, `TieredCache "${options.name ?? 'cache'}" options`);
    this.name = options.name ?? 'cache';
    this.clock = options.clock ?? systemClock;
    this.stats = options.stats ?? new CacheStats();
    this.l1 = options.l1;
    this.l2 = options.l2;
    this.settings = { ...DEFAULTS };
    for (const name of Object.keys(DEFAULTS) as (keyof CacheSettings)[]) {
      if (options[name] !== undefined) (this.settings as unknown as Record<string, unknown>)[name] = options[name];
    }
    const { generations, clock, stats, settings } = this;
    this.negatives = new NegativeCache({ generations, clock, stats, settings });
    const parts: CacheParts = (this.parts = {
      name: this.name,
      l1: this.l1,
      l2: this.l2,
      generations,
      dating: new EntryDating(generations, options.l2?.capabilities.shared ?? false),
      negatives: this.negatives,
      clock,
      stats,
      settings,
      serializer: options.serializer ?? typedJsonSerializer,
    });
    this.read = new ReadPath(parts);
    this.filler = new Filler(parts, this.read, options.onRevalidateError ?? (() => {}));
    this.explorer = new KeyExplorer(parts, this.read);
  }

  get strategy(): Strategy {
    return this.settings.strategy;
  }

  get maxStaleMs(): number {
    return this.settings.maxStaleMs;
  }

  get defaultTtlMs(): number {
    return this.settings.defaultTtlMs;
  }

  get negativeTtlMs(): number {
    return this.settings.negativeTtlMs;
  }

  /** Changes settings while the cache runs; they apply from the next read or fill. */
  configure(changes: RuntimeSettings): void {
    const next = { ...this.settings, ...definedOnly(changes) };
    // The same schema as the constructor's, against this cache's own maxTtlMs; nothing changes on a refusal.
    checkCacheOptions(next, `${this.name}: configure`);
    Object.assign(this.settings, next);
  }

  /** The value cached under `key` (fresh or STALE), without loading. */
  get<T = unknown>(key: string): Promise<T | undefined> {
    const entry = this.l1.read(key) as L1Entry | undefined;
    if (entry === undefined) {
      // Not in L1 at all: straight to L2, without building the Lookup `lookup` would make.
      return this.valueFromL2(key) as Promise<T | undefined>;
    }
    if (this.isFreshHit(entry)) return Promise.resolve(entry.value as T);
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
    return toLookup(entry, 'HIT', 'l1', now) as Lookup<T>;
  }

  /** Like `get`, with where the value came from, its state, version and age. */
  async lookup<T = unknown>(key: string): Promise<Lookup<T> | undefined> {
    this.assertKey(key);
    const fromL1 = this.read.fromL1(key);
    if (fromL1) return fromL1 as Lookup<T>;
    const fromL2 = await this.read.fromL2(key);
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
    const entry = this.l1.read(key) as L1Entry | undefined;
    if (entry !== undefined && this.isFreshHit(entry)) return Promise.resolve(entry.value as T);
    return this.lookupOrLoad(key, loader, options).then((found) => found.value);
  }

  /**
   * Like `getOrLoad`, with where the value came from, its state, version and age. A key's way:
   * L1; the remembered not_found; then, in the key's single flight, L2 and the source (Filler).
   * A reader who arrives after an invalidation is never handed a value read before it.
   */
  async lookupOrLoad<T>(key: string, loader?: Loader<T>, options: WriteOptions = {}): Promise<Lookup<T>> {
    this.assertKey(key);
    const load = (loader as Loader<unknown> | undefined) ?? this.definedLoader(key);
    for (let rereads = 0; ; rereads++) {
      const arrival = this.generations.seq;
      const fromL1 = this.read.fromL1(key);
      if (fromL1) {
        if (fromL1.state === 'STALE') this.filler.revalidate(key, load, options);
        return fromL1 as Lookup<T>;
      }
      const remembered = this.negatives.recall(key);
      if (remembered) throw remembered;
      const outcome = await this.filler.miss(key, load, options);
      // Revalidate once the miss's own flight is over; the first waiter starts it, the rest join it.
      if (outcome.kind === 'value' && outcome.lookup.state === 'STALE') this.filler.revalidate(key, load, options);
      // The flight's last read was overtaken by an invalidation it began before, and this reader
      // arrived after its read began: the invalidation may be one this reader saw, so read again.
      if (outcome.refusedReadAt !== undefined && outcome.refusedReadAt < arrival && rereads < MAX_REREADS) continue;
      return answer(outcome) as Lookup<T>;
    }
  }

  /**
   * Reads `key` from the source through its defined template's loader, whatever the cache holds,
   * and fills both tiers: for a warming job or a refresh-ahead. It shares a load in flight for the
   * key (readers' or another `load`'s), and like every fill it reads again when an invalidation
   * of the key overtakes the read. `no_loader` when no defined template matches the key.
   */
  async load<T = unknown>(key: string): Promise<T> {
    this.assertKey(key);
    return answer(await this.filler.reload(key, this.definedLoader(key))).value as T;
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
    // Each load is settled as soon as it starts: a batch that fails while the one-by-one loads
    // still run is then never a rejection nobody handles.
    const settled = new Map<string, Promise<PromiseSettledResult<T>>>();
    const track = (key: string, load: Promise<FillOutcome>) => {
      const result = load.then(
        (outcome): PromiseSettledResult<T> => {
          try {
            return { status: 'fulfilled', value: answer(outcome).value as T };
          } catch (reason) {
            return { status: 'rejected', reason };
          }
        },
        (reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason }),
      );
      settled.set(key, result);
      return result;
    };
    const oneByOne: { key: string; loader: Loader<unknown> }[] = [];
    for (const [definition, group] of groups) {
      if (definition.loaders.loadMany) {
        for (const [key, load] of this.batchLoad(definition, group.keys, group.params)) track(key, load);
      } else {
        group.keys.forEach((key, i) => oneByOne.push({ key, loader: templateLoader(definition, group.params[i]!) }));
      }
    }
    // A pool of workers over the queue: bounded concurrency for loaders that take one key at a time.
    const workers = Array.from({ length: Math.min(LOAD_MANY_CONCURRENCY, oneByOne.length) }, async () => {
      for (let next = oneByOne.shift(); next !== undefined; next = oneByOne.shift()) {
        await track(next.key, this.filler.reload(next.key, next.loader));
      }
    });
    await Promise.all(workers);
    return Promise.all(keys.map((key) => settled.get(key)!));
  }

  /** Writes a value to L2 and L1 (dated at `options.position` when given: see SetOptions). */
  async set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    this.assertKey(key);
    // A load of this key in flight read the source before this write: make its fill a stale set.
    // Only then, so that ordinary writes leave the sequence (and every L1 hit's fast path) alone.
    const raced = this.filler.has(key) ? this.overtakeLoad(key).seq : 0;
    const { position } = options;
    // This cache's sequence at `position`; undefined when older than this cache can judge.
    const dated = position === undefined ? this.generations.seq : this.generations.seqAtPosition(logPosition(position));
    const entry = makeEntry(this.parts, key, value, options, localSeq(Math.max(dated ?? 0, raced)));
    // Even when L1 is not written (a position this cache has not reached): the key now has a value.
    this.negatives.delete(key);
    if (this.l2 && this.l2.capabilities.shared && position !== undefined) await this.l2.set(key, { ...entry, generation: position });
    else if (this.l2 && dated !== undefined) await this.read.writeL2(key, entry);
    if (dated !== undefined) this.read.writeL1(key, entry, entry.generation);
  }

  /** Removes a key from both tiers of this cache now (no invalidation event). */
  async delete(key: string): Promise<boolean> {
    this.assertKey(key);
    // As for set(): a load in flight must not put back what it read before this delete.
    if (this.filler.has(key)) this.overtakeLoad(key);
    this.negatives.delete(key);
    const inL1 = this.l1.remove(key);
    const inL2 = this.l2 ? await this.l2.delete(key) : false;
    return inL1 || inL2;
  }

  /**
   * Applies an invalidation now: O(1) per tag or prefix, O(1) per key. Eager: matching entries
   * are gone for readers at once. Lazy: they are served STALE, revalidated on first read, and
   * never after `maxStaleMs`. A load whose read began before this is aborted and read again
   * (stale-set guard). `position`: the log event it comes from, applied in log order (it dates
   * entries of a shared L2). `l2: false` leaves the named keys in L2 to whoever applies the
   * event to L2 once for all nodes (a region's consumer group); reads judge them by the mark
   * either way.
   */
  async invalidate(targets: InvalidationTargets, options: InvalidateOptions = {}): Promise<Mark> {
    const { keyVersions } = options;
    const now = this.clock.now();
    const mark = this.generations.apply(targets, now, options);
    this.filler.overtake(targets, keyVersions);
    this.stats.invalidationsApplied++;
    if (targets.all) this.stats.flushes++;
    let dropping: Promise<void> | undefined;
    if (this.settings.strategy === 'eager') {
      // Keys are named one by one, so reclaiming their memory now costs what the purge already costs.
      const keys = targets.keys ?? [];
      for (const key of keys) {
        this.negatives.delete(key);
        // The version rule: an entry already as new as the change stays (its key mark spares it).
        if (!holdsVersion(this.l1.peek(key), versionOf(keyVersions, key))) this.l1.remove(key);
      }
      if (this.l2 !== undefined && options.l2 !== false && keys.length > 0) dropping = this.dropFromL2(keys, keyVersions);
    }
    this.generations.pruneIfDue(now, this.settings.loadTimeoutMs);
    await dropping;
    return mark;
  }

  /**
   * Deletes `keys` from L2, except an entry that already holds the version `keyVersions` gives its
   * key, or a newer one (the version rule): in batches where the store offers `dropMany` (Redis:
   * one script call per batch), else key by key, reading a versioned entry first (a value written
   * in between is deleted too, which only costs a load). Reads judge what is kept by the keys'
   * marks either way. One unreachable batch or key does not keep the others: all are tried, then
   * a failure is reported with how many keys it left.
   */
  async dropFromL2(keys: readonly string[], keyVersions?: Readonly<Record<string, number>>): Promise<void> {
    const l2 = this.l2!;
    const drops: KeyDrop[] = keys.map((key) => ({ key, version: versionOf(keyVersions, key) }));
    const dropMany = l2.dropMany?.bind(l2);
    const calls: { keys: number; run: () => Promise<unknown> }[] = [];
    if (dropMany) {
      for (let i = 0; i < drops.length; i += L2_DROP_BATCH) {
        const batch = drops.slice(i, i + L2_DROP_BATCH);
        calls.push({ keys: batch.length, run: () => this.l2Batches.run(() => dropMany(batch)) });
      }
    } else {
      for (const { key, version } of drops) {
        calls.push({
          keys: 1,
          run: () => this.l2Keys.run(async () => (version !== undefined && holdsVersion(await l2.get(key), version) ? false : l2.delete(key))),
        });
      }
    }
    const results = await Promise.allSettled(calls.map((call) => call.run()));
    const left = results.reduce((sum, result, i) => (result.status === 'rejected' ? sum + calls[i]!.keys : sum), 0);
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) {
      throw new FreshcacheError('store_unavailable', `${left} of the ${keys.length} invalidated keys could not be deleted from L2; reads still refuse them`, {
        cause: failed.reason,
      });
    }
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

  /** Keys whose entries an invalidation would hit now (a dry run: nothing changes); see KeyExplorer. */
  matching(targets: InvalidationTargets, limit?: number, budget?: number): Promise<MatchResult> {
    return this.explorer.matching(targets, limit, budget);
  }

  /** A page of the key explorer; see KeyExplorer. */
  scan(options: { prefix?: string; tag?: string; cursor?: string; limit: number; budget?: number }): Promise<ExplorerPage> {
    return this.explorer.scan(options);
  }

  /** An entry's details for the key explorer: the entry, which tier holds it, and its state. */
  describe(key: string): Promise<Described | undefined> {
    return this.explorer.describe(key);
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

  /** Not-found answers held now (each forgotten at its expiry, an invalidation, or when full). */
  get negativeCount(): number {
    return this.negatives.size;
  }

  /**
   * A local mark for `key` that makes its load in flight a refused fill (a write or delete raced
   * it). The load is not aborted: reading the source again could put back a value this write
   * replaced (a cache-only PUT, say); its callers get what it read, the cache keeps the write.
   */
  private overtakeLoad(key: string): Mark {
    return this.generations.apply({ keys: [key] }, this.clock.now());
  }

  /**
   * The hit path, kept here and inline (a call into the read path measured a fifth slower): an
   * L1 entry found valid at the current sequence and before its soft expiry (staleAt <= expiresAt,
   * so also before its hard one). Counted as an L1 hit.
   */
  private isFreshHit(entry: L1Entry): boolean {
    if (entry.verifiedSeq !== this.generations.seq || entry.staleAt <= this.clock.now()) return false;
    this.stats.l1Hits++;
    return true;
  }

  /** `lookup`'s L2 path for `get`, which wants only the value. */
  private async valueFromL2(key: string): Promise<unknown> {
    // Checked here, in an async function: a bad key is a rejected promise, never a throw from `get`.
    this.assertKey(key);
    return this.read.valueFromL2(key);
  }

  /** The loader of the defined template that matches `key`; `no_loader` when none does. */
  private definedLoader(key: string): Loader<unknown> {
    const { definition, params } = this.loaders.resolve(key);
    return templateLoader(definition, params);
  }

  /**
   * Loads the keys of one template with one call of its `loadMany`, each key through its own
   * single flight and the one fill path. Keys already loading join that load and stay out of the
   * call. The call is made once every key's fill has handed over its LoadContext; a key whose
   * read is overtaken is read again on its own, through the template's `load`.
   */
  private batchLoad(definition: Definition, keys: string[], params: TemplateParams[]): Map<string, Promise<FillOutcome>> {
    const loads = new Map<string, Promise<FillOutcome>>();
    const batch: { key: string; params: TemplateParams }[] = [];
    keys.forEach((key, i) => {
      // reload() of a key in flight joins that flight: its loader is never called.
      if (this.filler.has(key)) loads.set(key, this.filler.reload(key, templateLoader(definition, params[i]!)));
      else batch.push({ key, params: params[i]! });
    });
    const contexts: Parameters<Loader<unknown>>[0][] = [];
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
    batch.forEach(({ key, params: keyParams }, i) => {
      let handedOver = false;
      const loader: Loader<unknown> = (context) => {
        if (handedOver) return templateLoader(definition, keyParams)(context);
        handedOver = true;
        contexts[i] = context;
        if (--waiting === 0) call().then(settle.resolve, settle.reject);
        return values.then(
          (all) => {
            if (all[i] === undefined) throw new FreshcacheError('not_found', `loadMany of ${JSON.stringify(source)} found no value for ${JSON.stringify(key)}`);
            return all[i];
          },
          (error: unknown) => {
            // A batch that stopped because another key's read was abandoned (it passed their
            // signals on, as loaders are asked to) says nothing of this key: read it on its own.
            const anotherAbandoned = contexts.some((other, j) => j !== i && other?.signal.aborted);
            if (!context.signal.aborted && anotherAbandoned && (error as Error | undefined)?.name === 'AbortError') return templateLoader(definition, keyParams)(context);
            throw error;
          },
        );
      };
      loads.set(key, this.filler.reload(key, loader));
    });
    return loads;
  }

  private assertKey(key: string): void {
    const { maxKeyBytes } = this.settings;
    if (typeof key !== 'string' || key.length === 0) throw new FreshcacheError('invalid_key', 'key must be a non-empty string');
    if (key.length > maxKeyBytes / 3 && Buffer.byteLength(key, 'utf8') > maxKeyBytes) {
      throw new FreshcacheError('invalid_key', `key is longer than ${maxKeyBytes} bytes`);
    }
  }
}

/** A fill's answer to its caller: the value, or the loader's not_found thrown. */
function answer(outcome: FillOutcome): Lookup {
  if (outcome.kind === 'not_found') throw outcome.error;
  return outcome.lookup;
}

/** Whether `entry` holds origin version `version` or newer (never when either is unknown). */
function holdsVersion(entry: Entry | undefined, version: number | undefined): boolean {
  return version !== undefined && typeof entry?.version === 'number' && entry.version >= version;
}

/** A call-site style loader for one key of a defined template. */
function templateLoader(definition: Definition, params: TemplateParams): Loader<unknown> {
  return (context) => definition.loaders.load(params, context);
}

function definedOnly<T extends object>(changes: T): Partial<T> {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) as Partial<T>;
}
