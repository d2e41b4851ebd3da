import { MemoryStore } from '../adapters/memory/memory-store.js';
import type { EvictionPolicy } from '../adapters/memory/memory-store.js';
import { CacheStats } from '../engine/cache-stats.js';
import type { Clock } from '../engine/clock.js';
import { FreshcacheError } from '../engine/errors.js';
import type { Lookup, Strategy } from '../engine/tiered-cache.js';
import { TieredCache } from '../engine/tiered-cache.js';
import type { InvalidationEvent, InvalidationLog, Subscription } from '../seams/invalidation-log.js';
import type { ContentRecord, OriginStore } from '../seams/origin-store.js';
import type { Store } from '../seams/store.js';

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
  l1: TierConfig;
  l2: TierConfig;
}

export type RegionSettings = Pick<RegionConfig, 'delayMs' | 'jitter' | 'strategy' | 'mode' | 'ttlMs' | 'maxStaleMs'>;

export interface AppliedInvalidation {
  region: string;
  event: InvalidationEvent;
  appliedAt: number;
  /** True when the region ignored it (a CDC event in `ttl` mode). */
  skipped: boolean;
}

export interface RegionDeps {
  clock: Clock;
  log: InvalidationLog;
  origin: OriginStore;
  /** The region's shared tier; an in-process memory store when absent. */
  l2?: Store;
  /** Largest key and value the region's cache accepts (the engine's defaults when absent). */
  limits?: { maxKeyBytes: number; maxValueBytes: number };
  random?: () => number;
  onApplied?: (applied: AppliedInvalidation) => void;
  onSettingsChanged?: (region: Region) => void;
  onError?: (error: unknown, context: string) => void;
  /** The region dropped everything it cached (a gap in the log, or a switch to cdc). */
  onFlushed?: (region: string, reason: string) => void;
}

export function contentKey(id: number): string {
  return `content:${id}`;
}

/**
 * An edge node serving one region: reads content through its cache (L1 → L2 → origin) and applies
 * the invalidation log after the region's propagation delay.
 */
export class Region {
  readonly name: string;
  readonly cache: TieredCache;
  readonly stats = new CacheStats();
  private settings: RegionSettings;
  private readonly deps: RegionDeps;
  private readonly random: () => number;
  private subscription: Subscription | undefined;
  private readonly pending = new Set<{ cancel(): void }>();

  constructor(config: RegionConfig, deps: RegionDeps) {
    this.name = config.name;
    this.deps = deps;
    this.random = deps.random ?? Math.random;
    this.settings = pickSettings(config);
    const stats = this.stats;
    this.cache = new TieredCache({
      name: config.name,
      clock: deps.clock,
      stats,
      strategy: config.strategy,
      maxStaleMs: config.maxStaleMs,
      defaultTtlMs: config.ttlMs,
      maxKeyBytes: deps.limits?.maxKeyBytes,
      maxValueBytes: deps.limits?.maxValueBytes,
      l1: new MemoryStore({ name: 'l1', clock: deps.clock, ...config.l1, onEvict: () => stats.l1Evictions++ }),
      l2: deps.l2 ?? new MemoryStore({ name: 'l2', clock: deps.clock, ...config.l2, onEvict: () => stats.l2Evictions++ }),
      onRevalidateError: (key, error) => deps.onError?.(error, `revalidating ${key} in ${config.name}`),
    });
  }

  get config(): Readonly<RegionSettings> {
    return this.settings;
  }

  /**
   * Starts applying the log after `afterId`. By default from its newest event: a new region's
   * cache is empty, so nothing older can be stale in it. A node resuming from a saved position
   * passes it; if the log no longer holds everything after it, the region flushes.
   */
  async start(afterId?: number): Promise<void> {
    this.subscription = this.deps.log.subscribe({
      afterId: afterId ?? (await this.deps.log.lastId()),
      onEvent: (event) => this.receive(event),
      onGap: () => void this.flush('log gap'),
    });
  }

  async stop(): Promise<void> {
    this.subscription?.close();
    for (const timer of this.pending) timer.cancel();
    this.pending.clear();
  }

  /** Reads one content record through this region's cache. */
  readContent(id: number): Promise<Lookup<ContentRecord>> {
    return this.cache.lookupOrLoad<ContentRecord>(contentKey(id), async (context) => {
      const record = await this.deps.origin.get(id);
      if (!record) throw new FreshcacheError('not_found', `no content with id ${id}`);
      context.version = record.version;
      context.tags = record.tags;
      return record;
    });
  }

  update(patch: Partial<RegionSettings>): void {
    const switchedToCdc = patch.mode === 'cdc' && this.settings.mode === 'ttl';
    this.settings = { ...this.settings, ...patch };
    this.cache.strategy = this.settings.strategy;
    this.cache.maxStaleMs = this.settings.maxStaleMs;
    this.cache.defaultTtlMs = this.settings.ttlMs;
    // In ttl mode this region ignored the origin's changes, so anything it holds may be stale.
    if (switchedToCdc) void this.flush('switched to cdc');
    this.deps.onSettingsChanged?.(this);
  }

  /** The delay this event will take to reach the region: the configured delay ± jitter. */
  propagationDelay(): number {
    const { delayMs, jitter } = this.settings;
    return Math.max(0, delayMs * (1 + jitter * (2 * this.random() - 1)));
  }

  private receive(event: InvalidationEvent): void {
    const timer = this.deps.clock.setTimeout(() => {
      this.pending.delete(timer);
      this.apply(event).catch((error: unknown) => this.deps.onError?.(error, `applying invalidation ${event.id} in ${this.name}`));
    }, this.propagationDelay());
    this.pending.add(timer);
  }

  private async apply(event: InvalidationEvent): Promise<void> {
    const skipped = this.settings.mode === 'ttl' && event.source === 'cdc';
    if (!skipped) {
      await this.cache.invalidate({ keys: event.keys, tags: event.tags, prefixes: event.prefixes }, event.version);
    }
    this.deps.onApplied?.({ region: this.name, event, appliedAt: this.deps.clock.now(), skipped });
  }

  private async flush(reason: string): Promise<void> {
    await this.cache.invalidate({ all: true });
    this.deps.onFlushed?.(this.name, reason);
  }
}

function pickSettings(config: RegionConfig): RegionSettings {
  const { delayMs, jitter, strategy, mode, ttlMs, maxStaleMs } = config;
  return { delayMs, jitter, strategy, mode, ttlMs, maxStaleMs };
}
