import { MemoryStore } from './adapters/memory/memory-store.js';
import type { Clock, Timer } from './engine/clock.js';
import { systemClock } from './engine/clock.js';
import { FreshcacheError } from './engine/errors.js';
import { checkCacheOptions } from './engine/cache-options-schema.js';
import type { CacheSettingsInput, TierBounds } from './engine/cache-options-schema.js';
import { TieredCache } from './engine/tiered-cache.js';
import { LogFollower } from './engine/log-follower.js';
import type { InvalidationEvent, InvalidationLog } from './seams/invalidation-log.js';
import { lagOf } from './seams/invalidation-log.js';
import type { LocalStore } from './seams/local-store.js';
import type { Store } from './seams/store.js';
import type { Serializer } from './seams/serializer.js';
import { typedJsonSerializer } from './engine/typed-json-serializer.js';
import { CacheStats } from './engine/cache-stats.js';
import { registerLibraryMetrics } from './observability/library-metrics.js';
import type { LibraryMetrics, LibraryMetricsOptions } from './observability/library-metrics.js';
import { LibraryNode } from './observability/library-node.js';
import type { NodeRegistry } from './seams/node-registry.js';

/**
 * The settings (strategy, TTLs, timeouts, sizes) are typed by their schema, CacheSettingsSchema,
 * which createCache checks them against; the rest are stores, a clock and callbacks.
 */
export interface CreateCacheOptions extends CacheSettingsInput {
  /**
   * In-process tier: any `LocalStore`, or the bounds of the built-in one (a `MemoryStore`). The
   * cache counts the built-in one's evictions; a store of your own reports its own.
   */
  l1?: LocalStore | TierBounds;
  /**
   * Shared tier: any `Store`; `'memory'` for an in-process one; none when absent. Caches sharing
   * one L2 (a store with `capabilities.shared`) judge its entries by invalidation-log position:
   * feed every cache the same log events, with `invalidate(targets, { position })`, as a
   * topology's regions do (docs/architecture.md, "A shared L2").
   */
  l2?: Store | 'memory';
  /**
   * How values are written to L2 and read back (default `typedJsonSerializer`: JSON that keeps
   * Date, BigInt and Buffer); the TieredCache gets it too, for L1. An L2 store of your own takes
   * it too (`redisStore({ url, serializer })`): every node sharing an L2 uses the same.
   */
  serializer?: Serializer;
  clock?: Clock;
  onRevalidateError?: (key: string, error: unknown) => void;
  /** Join a deployment: follow its invalidation log (docs/api.md, "Library: join a deployment"). */
  invalidations?: FollowOptions;
  /**
   * Report this cache's metrics on your prom-client registry, named as a freshcache server's
   * (docs/operations.md, "Metrics"); `close()` unregisters them.
   */
  metrics?: LibraryMetricsOptions;
}

export interface FollowOptions {
  /** The deployment's log, e.g. `redisStreamLog({ url })` from `freshcache/redis`. The cache closes it on `close()`. */
  log: InvalidationLog;
  /** The region this cache serves: caches of one region share its L2 and delete from it once per event. */
  region: string;
  /** This cache's name in the region's consumer group (default: host and process id); unique per instance. */
  nodeId?: string;
  /** The cache has caught up with the log and joined its region's consumer group. */
  onReady?: () => void;
  /** An event was applied to this cache's L1 (`skipped`: a `control` event, which asks nothing yet). */
  onApplied?: (event: InvalidationEvent, skipped: boolean) => void;
  /** The cache dropped everything it held: a gap in the log, or an event this version cannot read. */
  onFlushed?: (reason: string, detail?: string) => void;
  onError?: (error: unknown, context: string) => void;
  /**
   * Where this cache lists itself as a node of the deployment (`url: null`, not drainable), with a
   * heartbeat every `heartbeatMs` (default 1,000); by default the log's own registry (a Redis log
   * keeps one beside its stream), `false` for none. `close()` deregisters it.
   */
  registry?: NodeRegistry | false;
  heartbeatMs?: number;
}

/**
 * The library face: a tiered cache with read-through, single flight, eager or lazy invalidation
 * by key, tag and prefix, and a stale-set guard.
 *
 * ```ts
 * const cache = createCache({ l1: { maxEntries: 10_000 }, defaultTtlMs: 60_000 });
 * const user = await cache.getOrLoad(`user:${id}`, async (ctx) => {
 *   const row = await db.user(id);
 *   ctx.version = row.version;
 *   ctx.tags = [`team:${row.teamId}`];
 *   return row;
 * });
 * await cache.invalidate({ tags: ['team:7'] });
 *
 * // Or define the loader once per key template: readers, warming jobs and refresh-ahead share it.
 * cache.define('team:{id}', { load: ({ id }) => db.team(id) });
 * const team = await cache.getOrLoad('team:7');
 * ```
 */
export function createCache(options: CreateCacheOptions = {}): TieredCache {
  const clock = options.clock ?? systemClock;
  checkCacheOptions(options, 'createCache options');
  if (options.invalidations !== undefined && !(typeof options.invalidations.region === 'string' && options.invalidations.region !== '')) {
    throw new FreshcacheError('bad_request', 'invalidations.region must be a non-empty string');
  }
  const given = options.l1 !== undefined && isLocalStore(options.l1) ? options.l1 : undefined;
  const bounds = given === undefined ? (options.l1 as TierBounds | undefined) : undefined;
  const stats = new CacheStats();
  const l1 = given ?? new MemoryStore({ name: 'l1', clock, ...bounds, onEvict: () => stats.l1Evictions++ });
  const l2 =
    options.l2 === 'memory' ? new MemoryStore({ name: 'l2', clock, maxEntries: 100_000, serializer: options.serializer ?? typedJsonSerializer, onEvict: () => stats.l2Evictions++ }) : options.l2;
  // Before the cache exists: a refused registration leaves nothing to close.
  let metrics: LibraryMetrics | undefined;
  if (options.metrics) {
    const region = options.metrics.name ?? options.invalidations?.region ?? 'default';
    metrics = registerLibraryMetrics({ registry: options.metrics.registry, region, stats, l1 });
  }
  const cache = new TieredCache({ ...options, clock, stats, l1, l2 });
  if (metrics) {
    const closeCache = cache.close.bind(cache);
    cache.close = async () => {
      metrics!.close();
      await closeCache();
    };
  }
  if (options.invalidations) follow(cache, options.invalidations, clock, metrics);
  return cache;
}

/** Waits between attempts to start following the log: doubling from the first to the last. */
export const FOLLOW_RETRY = { firstMs: 100, maxMs: 5_000 };

/**
 * Applies the log to `cache` from now on; the cache's `close()` then stops following first, and
 * closes the log. A start that fails (the log's Redis is down) is retried with backoff until it
 * succeeds or the cache closes; meanwhile a cache sharing its L2 keeps refusing the shared entries.
 */
function follow(cache: TieredCache, options: FollowOptions, clock: Clock, metrics: LibraryMetrics | undefined): void {
  const { log, region, nodeId, onReady, onError } = options;
  const registry = options.registry === false ? undefined : (options.registry ?? log.nodeRegistry?.());
  let node: LibraryNode | undefined;
  const onApplied = (event: InvalidationEvent, skipped: boolean) => {
    const lagMs = lagOf(event, clock.now());
    if (!skipped && lagMs !== undefined) {
      metrics?.observeInvalidationLag(lagMs / 1000);
      node?.observeLag(lagMs);
    }
    options.onApplied?.(event, skipped);
  };
  const onFlushed = (reason: string, detail?: string) => {
    metrics?.countFlush(reason);
    options.onFlushed?.(reason, detail);
  };
  const follower = new LogFollower({ cache, log, region, nodeId, onApplied, onFlushed, onError });
  if (registry) {
    // A failed heartbeat is not the cache's failure (it is retried at the next): onError stays the log's.
    node = new LibraryNode({ registry, cache, region, nodeId, clock, intervalMs: options.heartbeatMs, cursor: () => follower.lastReceivedId });
    void node.start();
  }
  let closed = false;
  let retry: Timer | undefined;
  let delayMs = FOLLOW_RETRY.firstMs;
  let failed = false;
  let attempt: Promise<void> = Promise.resolve();
  const start = () => {
    retry = undefined;
    attempt = follower.start().then(
      async () => {
        // Entries filled while not following may have missed events published before this start
        // (a shared L2's cache replays the log, which judges them; a cache of its own does not).
        if (failed && !cache.l2?.capabilities.shared) await follower.flush('followed late');
        if (!closed) onReady?.();
      },
      async (error: unknown) => {
        failed = true;
        // Drop whatever the failed attempt opened before it failed: the next one starts afresh.
        await follower.stop().catch(() => {});
        if (!closed) {
          retry = clock.setTimeout(start, delayMs);
          delayMs = Math.min(delayMs * 2, FOLLOW_RETRY.maxMs);
        }
        onError?.(error, 'starting to follow the invalidation log');
      },
    );
  };
  start();
  const closeCache = cache.close.bind(cache);
  cache.close = async () => {
    closed = true;
    retry?.cancel();
    await attempt;
    await follower.stop();
    await node?.stop();
    await log.close();
    await closeCache();
  };
}

function isLocalStore(l1: NonNullable<CreateCacheOptions['l1']>): l1 is LocalStore {
  return typeof (l1 as LocalStore).read === 'function';
}
