import {
  MemoryStore,
  type EvictionPolicy,
  CacheStats,
  type Clock,
  type Strategy,
  TieredCache,
  LogFollower,
  type InvalidationEvent,
  type InvalidationLog,
  type Store,
  typedJsonSerializer,
} from 'freshcache';
import { CancelledError, DelayLine } from './delay-line.js';

/** `cdc`: the origin's changes invalidate. `ttl`: they do not; entries only expire (the classic stale cache). */
export type FreshnessMode = 'cdc' | 'ttl';

export interface TierConfig {
  policy: EvictionPolicy;
  maxEntries: number;
  maxBytes: number;
}

export interface RegionConfig {
  name: string;
  /** Simulated propagation delay of invalidations to this region. */
  delayMs: number;
  /** Random spread of the delay, as a fraction of it (0.1 = ±10%). */
  jitter: number;
  strategy: Strategy;
  mode: FreshnessMode;
  ttlMs: number;
  maxStaleMs: number;
  /** How long the region's cache remembers a loader's not_found (0: not at all). */
  negativeTtlMs: number;
  l1: TierConfig;
  l2: TierConfig;
}

export type RegionSettings = Pick<RegionConfig, 'delayMs' | 'jitter' | 'strategy' | 'mode' | 'ttlMs' | 'maxStaleMs' | 'negativeTtlMs'>;

export interface AppliedInvalidation {
  region: string;
  event: InvalidationEvent;
  appliedAt: number;
  /** True when the region ignored it (a CDC event in `ttl` mode, or a `control` event). */
  skipped: boolean;
}

export interface RegionDeps {
  clock: Clock;
  log: InvalidationLog;
  /** The region's L2; an in-process memory store (dated like a shared one) when absent. A Redis one makes this node one of several. */
  l2?: Store;
  /** This node's name in its region's consumer group (default: host and process id). */
  nodeId?: string;
  /** Largest key and value the region's cache accepts (the engine's defaults when absent). */
  limits?: { maxKeyBytes: number; maxValueBytes: number };
  random?: () => number;
  onApplied?: (applied: AppliedInvalidation) => void;
  onSettingsChanged?: (region: Region) => void;
  onError?: (error: unknown, context: string) => void;
  /**
   * The region dropped everything it cached (a gap in the log, a switch to cdc, an event it cannot
   * read). `reason` is one of a few fixed words (a metric label); `detail` says more, for the log.
   */
  onFlushed?: (region: string, reason: string, detail?: string) => void;
}

/**
 * An edge node serving one region: its cache (L1 → L2 → the loaders apps define on it) applies the
 * invalidation log after the region's propagation delay.
 */
export class Region {
  readonly name: string;
  readonly cache: TieredCache;
  readonly stats = new CacheStats();
  private settings: RegionSettings;
  private readonly deps: RegionDeps;
  private readonly random: () => number;
  /** Applies the log to this node's cache; the delay lines below stand for the network. */
  private readonly follower: LogFollower;
  /** Invalidations on their way to this node's L1, and to the region's L2 (consumer group). */
  private readonly toL1: DelayLine;
  private readonly toL2: DelayLine;

  constructor(config: RegionConfig, deps: RegionDeps) {
    this.name = config.name;
    this.deps = deps;
    this.random = deps.random ?? Math.random;
    this.settings = pickSettings(config);
    this.toL1 = new DelayLine(deps.clock);
    this.toL2 = new DelayLine(deps.clock);
    const stats = this.stats;
    this.cache = new TieredCache({
      name: config.name,
      clock: deps.clock,
      stats,
      strategy: config.strategy,
      maxStaleMs: config.maxStaleMs,
      negativeTtlMs: config.negativeTtlMs,
      defaultTtlMs: config.ttlMs,
      maxKeyBytes: deps.limits?.maxKeyBytes,
      maxValueBytes: deps.limits?.maxValueBytes,
      l1: new MemoryStore({ name: 'l1', clock: deps.clock, ...config.l1, onEvict: () => stats.l1Evictions++ }),
      // Shared even when one node uses it: its entries are dated by log position, as on Redis,
      // so a write dated at its own event (a PUT) works the same embedded and deployed.
      // It keeps the serializer's text, as Redis does: readers get decoded copies, typed as from Redis.
      l2: deps.l2 ?? new MemoryStore({ name: 'l2', shared: true, clock: deps.clock, ...config.l2, serializer: typedJsonSerializer, onEvict: () => stats.l2Evictions++ }),
      onRevalidateError: (key, error) => deps.onError?.(error, `revalidating ${key} in ${config.name}`),
    });
    this.follower = new LogFollower({
      cache: this.cache,
      log: deps.log,
      region: config.name,
      nodeId: deps.nodeId,
      // A cancelled event did not happen: the node is stopping, nothing went wrong.
      toL1: (work) => this.toL1.push(this.propagationDelay(), work).catch((error: unknown) => {
        if (!(error instanceof CancelledError)) throw error;
      }),
      toL2: (work) => this.toL2.push(this.propagationDelay(), work),
      skips: (event) => this.skips(event),
      onApplied: (event, skipped) => deps.onApplied?.({ region: this.name, event, appliedAt: deps.clock.now(), skipped }),
      onFlushed: (reason, detail) => deps.onFlushed?.(this.name, reason, detail),
      onError: deps.onError,
    });
  }

  get config(): Readonly<RegionSettings> {
    return this.settings;
  }

  /**
   * Starts applying the log (see LogFollower.start): resolves once the node has caught up and,
   * with a shared L2, joined its region's consumer group.
   */
  start(): Promise<void> {
    return this.follower.start();
  }

  async stop(): Promise<void> {
    // Events still on their way are dropped first: the group's are left unacknowledged, so
    // another node of the region claims them; waiting them out would hold the stop for a delay.
    this.toL1.cancel();
    this.toL2.cancel();
    await this.follower.stop();
  }

  /**
   * The node is drained: the region's group events it holds are applied (their delay waited out)
   * and acknowledged, it leaves the consumer group, then stops following the log.
   */
  async drain(): Promise<void> {
    await this.follower.leave();
    this.toL1.cancel();
  }

  /** The newest invalidation-log position this node received. */
  get cursor(): number {
    return this.follower.lastReceivedId;
  }

  update(patch: Partial<RegionSettings>): void {
    const switchedToCdc = patch.mode === 'cdc' && this.settings.mode === 'ttl';
    const next = { ...this.settings, ...patch };
    // Refused (a coded error) before anything changes.
    this.cache.configure({ strategy: next.strategy, maxStaleMs: next.maxStaleMs, defaultTtlMs: next.ttlMs, negativeTtlMs: next.negativeTtlMs });
    this.settings = next;
    // In ttl mode this region ignored the origin's changes, so anything it holds may be stale.
    if (switchedToCdc) void this.follower.flush('switched to cdc', this.follower.lastReceivedId);
    this.deps.onSettingsChanged?.(this);
  }

  /**
   * In ttl mode the origin's changes are ignored: entries only expire. A `control` event is known
   * but none is defined yet, so there is nothing to do: a deliberate no-op, not a reason to flush.
   */
  private skips(event: InvalidationEvent): boolean {
    return event.kind === 'control' || (this.settings.mode === 'ttl' && event.source === 'cdc');
  }

  /** The delay this event will take to reach the region: the configured delay ± jitter. */
  propagationDelay(): number {
    const { delayMs, jitter } = this.settings;
    return Math.max(0, delayMs * (1 + jitter * (2 * this.random() - 1)));
  }
}

function pickSettings(config: RegionConfig): RegionSettings {
  const { delayMs, jitter, strategy, mode, ttlMs, maxStaleMs, negativeTtlMs } = config;
  return { delayMs, jitter, strategy, mode, ttlMs, maxStaleMs, negativeTtlMs };
}
