import { CACHE_DEFAULTS, CACHE_LIMITS, FreshcacheError, LogFollower, MemoryStore, TieredCache, type Clock, type InvalidationLog, type Lookup, type Store } from 'freshcache';
import type { RegionConfig } from './region.js';

/** What the read routes (`GET /api/cache[/:key]`) read a region through: served here or viewed. */
export interface RegionReader {
  readonly name: string;
  /** The key's value as the region serves it (HIT or STALE); undefined when it would not serve one. */
  lookup(key: string): Promise<Lookup | undefined>;
  scan: TieredCache['scan'];
}

export interface RegionViewDeps {
  clock: Clock;
  log: InvalidationLog;
  /** The region's shared L2 (Redis), in the namespace its nodes use. */
  l2: Store;
  onError?: (error: unknown, context: string) => void;
}

/**
 * A read-only look at a region this process does not serve, through the L2 its nodes share: the
 * key explorer, a key's value and the dry run, from any process with the control role.
 *
 * It follows the log as a node of the region does, to judge the shared entries by the same marks
 * (an entry a later invalidation made stale is never shown fresh), but joins no consumer group,
 * writes nothing to the L2 (no fills, no leases, no reclaiming) and loads nothing. It applies each
 * event at once, where the region's nodes wait out the region's delay: it shows what the region
 * will serve once that delay has passed. It judges with the region's settings as configured.
 */
export class RegionView implements RegionReader {
  readonly name: string;
  /** Only its explorer is used: L1 stays empty, so every answer comes from the region's L2. */
  readonly cache: TieredCache;
  private readonly follower: LogFollower;
  private readonly clock: Clock;
  /** Rejects a start still catching up (Redis unreachable) when the view closes. */
  private abandon: (error: Error) => void = () => {};
  private closing: Promise<void> | undefined;

  constructor(config: RegionConfig, deps: RegionViewDeps) {
    this.name = config.name;
    this.clock = deps.clock;
    this.cache = new TieredCache({
      name: `${config.name} (view)`,
      clock: deps.clock,
      strategy: config.strategy,
      maxStaleMs: config.maxStaleMs,
      defaultTtlMs: config.ttlMs,
      // The view never loads, nor hands out a TTL, by which pruning would keep its marks: this
      // keeps them as long as a node of the region keeps them for its default TTL (and a load).
      loadTimeoutMs: Math.min(CACHE_LIMITS.maxLoadTimeoutMs, config.ttlMs + CACHE_DEFAULTS.loadTimeoutMs),
      l1: new MemoryStore({ name: 'l1', clock: deps.clock, maxEntries: 1 }),
      l2: deps.l2,
    });
    const mode = config.mode;
    this.follower = new LogFollower({
      cache: this.cache,
      log: deps.log,
      region: config.name,
      joinGroup: false,
      // As the region's nodes skip them (Region.skips): in ttl mode the origin's changes do not invalidate.
      skips: (event) => event.kind === 'control' || (mode === 'ttl' && event.source === 'cdc'),
      onError: deps.onError,
    });
  }

  /** Replays the retained log to judge the shared entries; resolves once caught up, rejects if closed first. */
  start(): Promise<void> {
    const closed = new Promise<never>((_, reject) => (this.abandon = reject));
    return Promise.race([this.follower.start(), closed]);
  }

  /** Judged as the region's nodes judge it, without copying it anywhere or deleting it. */
  async lookup(key: string): Promise<Lookup | undefined> {
    const found = await this.cache.describe(key);
    if (found === undefined || found.state === 'invalid') return undefined;
    const { entry } = found;
    return {
      value: entry.value,
      state: found.state === 'stale' ? 'STALE' : 'HIT',
      tier: 'l2',
      version: entry.version,
      tags: entry.tags,
      ageMs: Math.max(0, this.clock.now() - entry.createdAt),
    };
  }

  scan(options: Parameters<TieredCache['scan']>[0]): ReturnType<TieredCache['scan']> {
    return this.cache.scan(options);
  }

  /** Stops following the log, even while it still catches up; nothing of the view runs after. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.abandon(new FreshcacheError('node_draining', `the view of region ${this.name} closed: this process is shutting down`));
      await this.follower.stop();
      await this.cache.close();
    })();
    return this.closing;
  }
}
