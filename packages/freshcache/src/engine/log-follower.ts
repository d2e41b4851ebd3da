import { hostname } from 'node:os';
import type { GapInfo, GroupSubscription, InvalidationEvent, InvalidationLog } from '../seams/invalidation-log.js';
import { unknownEvent } from '../seams/invalidation-log.js';
import type { TieredCache } from './tiered-cache.js';

/** Runs an event's work on its way to a tier: at once, or later (a topology's simulated propagation delay). */
export type Deliver = (work: () => Promise<void>) => Promise<void>;

export interface LogFollowerOptions {
  cache: TieredCache;
  log: InvalidationLog;
  /** The region: caches of one region share its L2 and its consumer group (`region:<name>`). */
  region: string;
  /** This cache's name in its region's consumer group (default: host and process id). */
  nodeId?: string;
  /**
   * Whether a cache sharing its region's L2 joins the region's consumer group (default true).
   * false: a read-only view of the region from a process that does not serve it. It judges the
   * shared entries by the log, but leaves the events to the region's nodes: a member would take
   * its share of them and apply them to the shared L2 itself.
   */
  joinGroup?: boolean;
  /** How an event reaches L1 (default: at once). Must keep log order. */
  toL1?: Deliver;
  /** How the consumer group's share reaches the shared L2 (default: at once). A rejection leaves the event unacknowledged. */
  toL2?: Deliver;
  /** Events received but not applied (default: `control` events, none of which is defined yet). */
  skips?: (event: InvalidationEvent) => boolean;
  onApplied?: (event: InvalidationEvent, skipped: boolean) => void;
  /** The cache dropped everything (a gap, an unknown event, an explicit `flush`): `reason` is a short fixed phrase, `detail` says more. */
  onFlushed?: (reason: string, detail?: string) => void;
  onError?: (error: unknown, context: string) => void;
}

const atOnce: Deliver = (work) => work();

/**
 * Applies the invalidation log to one cache: every event to its L1 (each cache subscribes), and
 * each event once per region to a shared L2 (the region's consumer group). It keeps the log's
 * promises: a gap or an event it cannot read flushes, never skips; a log lost and started again
 * distrusts the shared entries until the new log passes everything seen before.
 */
export class LogFollower {
  private readonly options: LogFollowerOptions;
  private readonly cache: TieredCache;
  private readonly sharedL2: boolean;
  /** The L1 subscription, then (shared L2) the place in the region's consumer group. */
  private readonly subscriptions: GroupSubscription[] = [];
  private readonly toL1: Deliver;
  private readonly toL2: Deliver;
  /** The newest event received, applied or not. */
  private lastReceived = 0;
  /**
   * Shared entries are distrusted (the log was lost, or this cache was cut off from it) until an
   * event above this id arrives: from there on this cache has seen every event again.
   */
  private distrustedUntilAbove: number | undefined;
  /** Still replaying the retained log at start. */
  private catchingUp = false;

  constructor(options: LogFollowerOptions) {
    this.options = options;
    this.cache = options.cache;
    this.sharedL2 = options.cache.l2?.capabilities.shared ?? false;
    this.toL1 = options.toL1 ?? atOnce;
    this.toL2 = options.toL2 ?? atOnce;
  }

  /** The newest log position received, applied or not. */
  get lastReceivedId(): number {
    return this.lastReceived;
  }

  /**
   * Starts applying the log. A cache with an L2 of its own starts at the log's newest event: it is
   * empty, so nothing older can be stale in it. A cache sharing its region's L2 first replays what
   * the log still holds, at once and silently, so that it can judge the entries other caches
   * wrote (an entry older than the replay counts as invalid), and refuses them until it has caught up.
   * It then also joins its region's consumer group, which applies each event to the shared L2
   * once for all the region's caches.
   */
  async start(): Promise<void> {
    const { log } = this.options;
    // Until the replay has caught up, the marks that judge shared entries are missing: refuse them.
    if (this.sharedL2) this.cache.trustFrom(Infinity);
    /** Shared entries older than this cannot be judged once caught up (the log trimmed what came before). */
    let trustAfterCatchUp = 0;
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
            trustAfterCatchUp = gap.oldestRetainedId - 1;
            return;
          }
          this.onGap(gap);
          // The log it was catching up to is gone (lost, or moved backwards): it may never reach that id.
          if (gap.reason === 'reset' || gap.reason === 'epoch') caughtUp();
        },
      }),
    );
    if (this.catchingUp) await ready;
    this.catchingUp = false;
    // Not after a reset: that distrust lasts until the new log passes everything seen before.
    if (this.sharedL2 && this.distrustedUntilAbove === undefined) this.cache.trustFrom(trustAfterCatchUp);
    if (this.sharedL2 && this.options.joinGroup !== false) {
      this.subscriptions.push(
        await log.consume({
          group: `region:${this.options.region}`,
          consumer: this.options.nodeId ?? `${hostname()}:${process.pid}`,
          onEvent: (event) => this.toL2(() => this.applyToL2(event)),
        }),
      );
    }
  }

  /** Stops the subscription and leaves the consumer group; resolves once no event will be applied. */
  async stop(): Promise<void> {
    const subscriptions = this.subscriptions.splice(0);
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
  }

  /**
   * Leaves the region's consumer group for good (the node is drained): the group's events it was
   * handed are applied and acknowledged first, while its L1 still follows the log; then it stops.
   */
  async leave(): Promise<void> {
    const [l1, ...group] = this.subscriptions.splice(0);
    for (const subscription of group) await (subscription.leave ? subscription.leave() : subscription.close());
    await l1?.close();
  }

  /** Drops everything the cache holds, trusting shared entries from `trustFrom` on (default: the position reached). */
  async flush(reason: string, trustFrom?: number, detail?: string): Promise<void> {
    await this.cache.flush(trustFrom);
    this.options.onFlushed?.(reason, detail);
  }

  private receive(event: InvalidationEvent, catchUpTo: number): void {
    const { region, onError } = this.options;
    this.lastReceived = Math.max(this.lastReceived, event.id);
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
        .invalidate(targetsOf(event), { keyVersions: event.keyVersions, position: event.id, l2: false })
        .catch((error: unknown) => onError?.(error, `replaying invalidation ${event.id} in ${region}`));
      return;
    }
    this.toL1(() => this.apply(event)).catch((error: unknown) => onError?.(error, `applying invalidation ${event.id} in ${region}`));
  }

  private async apply(event: InvalidationEvent): Promise<void> {
    const unknown = unknownEvent(event);
    if (unknown) {
      await this.flushUnknown(event, unknown);
      this.options.onApplied?.(event, false);
      return;
    }
    const skipped = this.skips(event);
    if (!skipped && event.all) {
      // Changes were lost or could not be mapped upstream: drop everything, and refuse what the
      // shared L2 holds from before this event.
      // While it distrusts every shared entry (a log that was lost), a flush must not re-trust them.
      const trustFrom = this.distrustedUntilAbove === undefined ? event.id : Infinity;
      await this.flush(event.reason ?? 'flush all', trustFrom, `event ${event.id} asks to drop everything`);
    } else if (!skipped) {
      // With a shared L2 the region's consumer group deletes the keys there, once for all caches.
      await this.cache.invalidate(targetsOf(event), { keyVersions: event.keyVersions, position: event.id, l2: !this.sharedL2 });
    }
    this.options.onApplied?.(event, skipped);
  }

  /** The consumer group's share: named keys leave the shared L2 (eager only; lazy keeps them to serve STALE). */
  private async applyToL2(event: InvalidationEvent): Promise<void> {
    // An event this cache cannot read names nothing it can delete: every cache of the region
    // flushes on it instead, and from then on refuses the shared entries written before it.
    if (unknownEvent(event) || this.skips(event) || this.cache.strategy === 'lazy') return;
    // A `write`'s new value may already be in L2, dated at this event: deleting the key could
    // delete it. What the event made stale is refused by every cache's marks, and reclaimed on read.
    if (event.source === 'write') return;
    // In batches, bounded across events by the cache (one event can name thousands of keys).
    // A failure leaves it unacknowledged: the group hands it out again, and deleting twice is harmless.
    await this.cache.dropFromL2(event.keys, event.keyVersions);
  }

  private skips(event: InvalidationEvent): boolean {
    return this.options.skips ? this.options.skips(event) : event.kind === 'control';
  }

  /**
   * An event of a kind or format version this code does not know (a newer node wrote it, during a
   * rolling upgrade) may invalidate anything: flush, never skip. Its position counts as reached:
   * shared entries written before it are refused, those written after it are trusted (unless the
   * cache already distrusts every shared entry until the log reaches it again).
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
    // Reset (the log was lost), a new epoch (it moved backwards) or cut off: nothing newer than what this cache saw is known. Shared
    // entries are distrusted until an event beyond everything seen before arrives (a restored
    // log may replay old ids first).
    this.distrustedUntilAbove = Math.max(this.distrustedUntilAbove ?? 0, this.lastReceived);
    void this.flush(`log ${gap.reason}`, Infinity);
  }
}

function targetsOf(event: InvalidationEvent) {
  return { keys: event.keys, tags: event.tags, prefixes: event.prefixes, all: event.all === true };
}
