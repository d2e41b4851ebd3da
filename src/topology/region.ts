import { MemoryStore } from '../adapters/memory/memory-store.js';
import type { EvictionPolicy } from '../adapters/memory/memory-store.js';
import { CacheStats } from '../engine/cache-stats.js';
import type { Clock } from '../engine/clock.js';
import { FreshcacheError } from '../engine/errors.js';
import type { Lookup, Strategy } from '../engine/tiered-cache.js';
import { TieredCache } from '../engine/tiered-cache.js';
import { hostname } from 'node:os';
import type { GapInfo, InvalidationEvent, InvalidationLog, Subscription } from '../seams/invalidation-log.js';
import { unknownEvent } from '../seams/invalidation-log.js';
import type { ContentRecord, OriginStore } from '../seams/origin-store.js';
import type { Store } from '../seams/store.js';
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
  l1: TierConfig;
  l2: TierConfig;
}

export type RegionSettings = Pick<RegionConfig, 'delayMs' | 'jitter' | 'strategy' | 'mode' | 'ttlMs' | 'maxStaleMs'>;

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
  origin: OriginStore;
  /** The region's L2; an in-process memory store when absent. A shared one (Redis) makes this node one of several. */
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
  private readonly subscriptions: Subscription[] = [];
  /** Invalidations on their way to this node's L1, and to the region's L2 (consumer group). */
  private readonly toL1: DelayLine;
  private readonly toL2: DelayLine;
  private readonly sharedL2: boolean;
  /** The newest event received, applied or not: a switch to cdc distrusts the shared L2 before it. */
  private lastReceivedId = 0;
  /**
   * Shared entries are distrusted (the log was lost, or this node was cut off from it) until an
   * event above this id arrives: from there on this node has seen every event again.
   */
  private distrustedUntilAbove: number | undefined;
  /** Still replaying the retained log at start. */
  private catchingUp = false;

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
      defaultTtlMs: config.ttlMs,
      maxKeyBytes: deps.limits?.maxKeyBytes,
      maxValueBytes: deps.limits?.maxValueBytes,
      l1: new MemoryStore({ name: 'l1', clock: deps.clock, ...config.l1, onEvict: () => stats.l1Evictions++ }),
      l2: deps.l2 ?? new MemoryStore({ name: 'l2', clock: deps.clock, ...config.l2, onEvict: () => stats.l2Evictions++ }),
      onRevalidateError: (key, error) => deps.onError?.(error, `revalidating ${key} in ${config.name}`),
    });
    this.sharedL2 = this.cache.l2?.capabilities.shared ?? false;
  }

  get config(): Readonly<RegionSettings> {
    return this.settings;
  }

  /**
   * Starts applying the log. A node with an L2 of its own starts at the log's newest event: its
   * cache is empty, so nothing older can be stale in it. A node sharing its region's L2 first
   * replays what the log still holds, at once and silently, so that it can judge the entries other
   * nodes wrote (an entry older than the replay counts as invalid); it is ready when it has caught
   * up. It then also joins its region's consumer group, which applies each event to the shared L2
   * once for all the region's nodes.
   */
  async start(): Promise<void> {
    const { log } = this.deps;
    const lastId = await log.lastId();
    let caughtUp = () => {};
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    const catchUpTo = this.sharedL2 ? lastId : 0;
    this.catchingUp = catchUpTo > 0;
    if (!this.sharedL2) this.cache.trustFrom(lastId);
    this.subscriptions.push(
      log.subscribe({
        afterId: this.sharedL2 ? 0 : lastId,
        onEvent: (event) => {
          this.receive(event, catchUpTo);
          if (event.id >= catchUpTo) caughtUp();
        },
        onGap: (gap) => {
          if (this.catchingUp && gap.reason === 'trimmed') {
            // Starting up with an empty L1: nothing to flush. Entries older than what the log
            // still holds can no longer be judged, which is all a trimmed log means here.
            this.cache.trustFrom(gap.oldestRetainedId - 1);
            return;
          }
          this.onGap(gap);
          if (gap.reason === 'reset') caughtUp();
        },
      }),
    );
    if (this.catchingUp) await ready;
    this.catchingUp = false;
    if (this.sharedL2) {
      this.subscriptions.push(
        await log.consume({
          group: `region:${this.name}`,
          consumer: this.deps.nodeId ?? `${hostname()}:${process.pid}`,
          onEvent: (event) => this.toL2.push(this.propagationDelay(), () => this.applyToL2(event)),
        }),
      );
    }
  }

  async stop(): Promise<void> {
    // Events still on their way are dropped first: the group's are left unacknowledged, so
    // another node of the region claims them; waiting them out would hold the stop for a delay.
    this.toL1.cancel();
    this.toL2.cancel();
    const subscriptions = this.subscriptions.splice(0);
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
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
    if (switchedToCdc) void this.flush('switched to cdc', this.lastReceivedId);
    this.deps.onSettingsChanged?.(this);
  }

  /** The delay this event will take to reach the region: the configured delay ± jitter. */
  propagationDelay(): number {
    const { delayMs, jitter } = this.settings;
    return Math.max(0, delayMs * (1 + jitter * (2 * this.random() - 1)));
  }

  private receive(event: InvalidationEvent, catchUpTo: number): void {
    this.lastReceivedId = Math.max(this.lastReceivedId, event.id);
    if (this.distrustedUntilAbove !== undefined && event.id > this.distrustedUntilAbove) {
      this.distrustedUntilAbove = undefined;
      this.cache.trustFrom(event.id - 1);
    }
    if (event.id <= catchUpTo) {
      // Catching up at start: old events are past due, and they only date what the shared L2 holds.
      const unknown = unknownEvent(event);
      if (unknown) {
        void this.flushUnknown(event, unknown);
        return;
      }
      if (event.kind === 'control') return;
      this.cache
        .invalidate(targetsOf(event), { version: event.version, position: event.id, l2: false })
        .catch((error: unknown) => this.deps.onError?.(error, `replaying invalidation ${event.id} in ${this.name}`));
      return;
    }
    this.toL1.push(this.propagationDelay(), () => this.apply(event)).catch((error: unknown) => {
      if (!(error instanceof CancelledError)) this.deps.onError?.(error, `applying invalidation ${event.id} in ${this.name}`);
    });
  }

  private async apply(event: InvalidationEvent): Promise<void> {
    const unknown = unknownEvent(event);
    if (unknown) {
      await this.flushUnknown(event, unknown);
      this.deps.onApplied?.({ region: this.name, event, appliedAt: this.deps.clock.now(), skipped: false });
      return;
    }
    const skipped = this.skips(event);
    if (!skipped) {
      // With a shared L2 the region's consumer group deletes the keys there, once for all nodes.
      await this.cache.invalidate(targetsOf(event), { version: event.version, position: event.id, l2: !this.sharedL2 });
    }
    this.deps.onApplied?.({ region: this.name, event, appliedAt: this.deps.clock.now(), skipped });
  }

  /** The consumer group's share: named keys leave the shared L2 (eager only; lazy keeps them to serve STALE). */
  private async applyToL2(event: InvalidationEvent): Promise<void> {
    // An event this node cannot read names nothing it can delete: every node of the region flushes
    // on it instead, and from then on refuses the shared entries written before it.
    if (unknownEvent(event) || this.skips(event) || this.settings.strategy === 'lazy') return;
    for (const key of event.keys) await this.cache.l2!.delete(key);
  }

  /**
   * In ttl mode the origin's changes are ignored: entries only expire. A `control` event is known
   * but none is defined yet, so there is nothing to do: a deliberate no-op, not a reason to flush.
   */
  private skips(event: InvalidationEvent): boolean {
    return event.kind === 'control' || (this.settings.mode === 'ttl' && event.source === 'cdc');
  }

  /**
   * An event of a kind or format version this node does not know (a newer node wrote it, during a
   * rolling upgrade) may invalidate anything: flush, never skip. Its position counts as reached:
   * shared entries written before it are refused, those written after it are trusted (unless the
   * node already distrusts every shared entry until the log reaches it again).
   */
  private flushUnknown(event: InvalidationEvent, why: string): Promise<void> {
    const trustFrom = this.distrustedUntilAbove === undefined ? event.id : Infinity;
    return this.flush('unknown event', trustFrom, `${why} at log position ${event.id}`);
  }

  private onGap(gap: GapInfo): void {
    if (gap.reason === 'trimmed') {
      // Everything from the oldest retained event on will be seen.
      void this.flush('log trimmed', gap.oldestRetainedId - 1);
      return;
    }
    // Reset (the log was lost) or cut off: nothing newer than what this node saw is known. Shared
    // entries are distrusted until an event beyond everything seen before arrives (a restored
    // log may replay old ids first).
    this.distrustedUntilAbove = Math.max(this.distrustedUntilAbove ?? 0, this.lastReceivedId);
    void this.flush(`log ${gap.reason}`, Infinity);
  }

  private async flush(reason: string, trustFrom?: number, detail?: string): Promise<void> {
    await this.cache.flush(trustFrom);
    this.deps.onFlushed?.(this.name, reason, detail);
  }
}

function targetsOf(event: InvalidationEvent) {
  return { keys: event.keys, tags: event.tags, prefixes: event.prefixes };
}

function pickSettings(config: RegionConfig): RegionSettings {
  const { delayMs, jitter, strategy, mode, ttlMs, maxStaleMs } = config;
  return { delayMs, jitter, strategy, mode, ttlMs, maxStaleMs };
}
