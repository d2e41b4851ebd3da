import type { Entry } from '../../seams/entry.js';
import type { FillLeases, KeyDrop, ScanOptions, ScanPage, Store, StoreCapabilities } from '../../seams/store.js';
import { FreshcacheError } from '../../engine/errors.js';
import { CallTimeoutError, CircuitBreaker, CircuitOpenError } from './circuit-breaker.js';

export interface BreakerStoreOptions {
  /** The store to guard, typically the shared tier (RedisStore). */
  store: Store;
  /** Default: a CircuitBreaker with its defaults, named after the store. */
  breaker?: CircuitBreaker;
  /**
   * The breaker of one part of the store (`store.partitionOf`: a Redis Cluster primary), made the
   * first time a key of that part is used. Default: a CircuitBreaker with its defaults, named
   * `<breaker> <part>`.
   */
  partBreaker?: (part: string) => CircuitBreaker;
  /** Deletes remembered for replay after recovery; past this the store flushes instead. Default 10,000. */
  maxPendingDeletes?: number;
  /** Time limit for size and clear, which walk the whole namespace, and for a page of scan. Default 30 s. */
  adminTimeoutMs?: number;
  /**
   * Receives the errors this store hides from its caller: a read that became a miss, a write
   * that was dropped, a replay that failed. Fail-fast rejections while open are not reported
   * (they are one state change, not one error per call).
   */
  onError?: (error: unknown, operation: 'get' | 'set' | 'replay') => void;
}

/**
 * A Store that keeps working while the store it wraps is unreachable, through a CircuitBreaker.
 * A shared tier is an optimisation: when Redis is down, a node serves from L1 and the origin,
 * and uses Redis again once it answers (the breaker probes by itself).
 *
 *   get    a failure, a timeout or an open breaker is a miss: the engine loads from the origin.
 *   set    a failure or an open breaker skips the write: a fill that is not kept costs a miss.
 *   delete see below.
 *   scan, size, clear   reject (CircuitOpenError while open): an admin asking for a listing
 *          must not get an empty one that looks true. A scan's page and cursor pass through
 *          unchanged, so its guarantees are the wrapped store's.
 *
 * A delete that does not reach Redis is an invalidation that did not happen in the shared tier.
 * This node's generation marks still refuse the old entry, but the entry stays in Redis, where
 * any node without those marks (one started after the invalidation, or one whose marks were
 * pruned) would serve it as fresh, up to its TTL. Dropping the delete silently would be unsafe,
 * so a failed delete:
 *   - rejects, so the caller knows the shared tier did not change;
 *   - is remembered, and replayed as soon as the breaker closes;
 *   - until then, this node reads the key as a miss (and retries the delete on each read), so
 *     it never serves the value it failed to delete;
 *   - past `maxPendingDeletes` remembered keys, memory stays bounded by forgetting them all and
 *     clearing the whole store on recovery instead (a cache flush is always safe; it costs
 *     misses). Until that flush succeeds every read is a miss and writes are skipped.
 * A store in parts that fail apart (`partitionOf`: the primaries of a Redis Cluster) gets a breaker
 * per part, so one dead primary sends only its own keys to the origin; listings, which walk every
 * part, use the store's breaker. Remembered deletes are the store's, whichever part failed them: a
 * failover moves a key to another part, and its delete must still be owed there.
 * What is remembered lives in this process: a node that restarts during an outage forgets its
 * pending deletes. Marks kept in Redis itself are what closes that gap (architecture.md, "L2
 * marks live in the process").
 */
export class BreakerStore implements Store {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  readonly breaker: CircuitBreaker;
  /** The breaker of each part seen, by part (empty for a store in one part). */
  readonly partBreakers = new Map<string, CircuitBreaker>();
  /** The inner store's leases through the breaker; a failure rejects, and the engine then loads without one. */
  readonly leases: FillLeases | undefined;
  private readonly inner: Store;
  private readonly maxPendingDeletes: number;
  private readonly adminTimeoutMs: number;
  private readonly onError: ((error: unknown, operation: 'get' | 'set' | 'replay') => void) | undefined;
  /** Key → stamp of its latest failed delete: a delete that began before that stamp cannot settle it. */
  private readonly pending = new Map<string, number>();
  private stamp = 0;
  /** More deletes failed than could be remembered: only a clear of the whole store settles them. */
  private flushNeeded = false;
  /** Deletes lost (forgotten) so far; a clear that began before the latest one does not settle it. */
  private lost = 0;
  private replaying: Promise<void> | undefined;
  private readonly unsubscribes: (() => void)[] = [];
  private readonly partBreaker: (part: string) => CircuitBreaker;

  constructor(options: BreakerStoreOptions) {
    this.inner = options.store;
    this.name = options.store.name;
    this.capabilities = options.store.capabilities;
    this.breaker = options.breaker ?? new CircuitBreaker({ name: options.store.name });
    this.partBreaker = options.partBreaker ?? ((part) => new CircuitBreaker({ name: `${this.breaker.name} ${part}` }));
    this.maxPendingDeletes = options.maxPendingDeletes ?? 10_000;
    this.adminTimeoutMs = options.adminTimeoutMs ?? 30_000;
    this.onError = options.onError;
    const leases = options.store.leases;
    this.leases = leases && {
      acquire: (key, ttlMs) => this.guarded(() => leases.acquire(key, ttlMs), undefined, this.breakerOf(key)),
      // A key with a delete still owed must not be filled: the fill could outlive the delete's replay.
      fill: async (key, token, entry) => !this.flushNeeded && !this.pending.has(key) && (await this.guarded(() => leases.fill(key, token, entry), undefined, this.breakerOf(key))),
      release: (key, token) => this.guarded(() => leases.release(key, token), undefined, this.breakerOf(key)),
    };
    this.replayWhenClosed(this.breaker);
  }

  /**
   * The store's breaker and those of the parts the store has now: a primary that failed over
   * serves no key any more, so its breaker would stay open for good, and say so.
   */
  currentBreakers(): CircuitBreaker[] {
    const parts = this.inner.partitions?.();
    if (parts) for (const part of this.partBreakers.keys()) if (!parts.includes(part)) this.partBreakers.delete(part);
    return [this.breaker, ...this.partBreakers.values()];
  }

  /** The breaker that guards calls about `key`: its part's, or the store's. */
  breakerOf(key: string): CircuitBreaker {
    const part = this.inner.partitionOf?.(key);
    if (part === undefined) return this.breaker;
    let breaker = this.partBreakers.get(part);
    if (!breaker) {
      breaker = this.partBreaker(part);
      this.partBreakers.set(part, breaker);
      this.replayWhenClosed(breaker);
      // A new part (a replica took over): the deletes owed by keys it now holds can land there;
      // the old part's breaker, which no call reaches any more, would never close to replay them.
      if (this.pending.size > 0) queueMicrotask(() => void this.replayDeletes());
    }
    return breaker;
  }

  private replayWhenClosed(breaker: CircuitBreaker): void {
    this.unsubscribes.push(
      breaker.onStateChange((change) => {
        if (change.to === 'closed') void this.replayDeletes();
      }),
    );
  }

  /** Keys whose delete failed and has not been replayed yet. */
  get pendingDeletes(): number {
    return this.pending.size;
  }

  /** True when more deletes failed than could be remembered, until a clear succeeds. */
  get flushPending(): boolean {
    return this.flushNeeded;
  }

  async get(key: string): Promise<Entry | undefined> {
    if (this.flushNeeded) {
      // Reads are what keeps a node busy; let them drive the flush, which is also the probe
      // when the breaker is half-open. Without this a flush that failed once while closed
      // would never be retried, and every read would miss for ever.
      if (this.breaker.state !== 'open') void this.replayDeletes();
      return undefined;
    }
    if (this.pending.has(key)) {
      await this.settle(key).catch((error: unknown) => this.report(error, 'get'));
      return undefined;
    }
    try {
      return await this.breakerOf(key).run(() => this.inner.get(key));
    } catch (error) {
      this.report(error, 'get');
      return undefined;
    }
  }

  async set(key: string, entry: Entry): Promise<void> {
    // A flush is due: whatever is written now would be cleared by it.
    if (this.flushNeeded) return;
    try {
      await this.breakerOf(key).run(() => this.inner.set(key, entry));
    } catch (error) {
      this.report(error, 'set');
    }
  }

  /** Rejects when the delete did not reach the store; it is then remembered and replayed (see above). */
  async delete(key: string): Promise<boolean> {
    const before = this.pending.get(key);
    try {
      const existed = await this.breakerOf(key).run(() => this.inner.delete(key));
      if (before !== undefined && this.pending.get(key) === before) this.pending.delete(key);
      return existed;
    } catch (error) {
      this.remember(key);
      throw unavailable(error);
    }
  }

  /**
   * As `delete` for each key, keeping an entry that holds its drop's version or newer; a key with
   * a failed delete pending is deleted whatever it holds. One call per part of the store, each
   * through its breaker; the keys of a call that failed are remembered, and then it rejects.
   */
  async dropMany(drops: readonly KeyDrop[]): Promise<number> {
    const inner = this.inner.dropMany?.bind(this.inner);
    const settled = drops.map((drop) => (this.pending.has(drop.key) ? { key: drop.key } : drop));
    if (!inner) return this.dropKeyByKey(settled);
    const byBreaker = new Map<CircuitBreaker, KeyDrop[]>();
    for (const drop of settled) {
      const breaker = this.breakerOf(drop.key);
      const part = byBreaker.get(breaker);
      if (part) part.push(drop);
      else byBreaker.set(breaker, [drop]);
    }
    const results = await Promise.allSettled(
      [...byBreaker].map(async ([breaker, part]) => {
        const before = part.map(({ key }) => [key, this.pending.get(key)] as const);
        try {
          const dropped = await breaker.run(() => inner(part));
          for (const [key, stamp] of before) if (stamp !== undefined && this.pending.get(key) === stamp) this.pending.delete(key);
          return dropped;
        } catch (error) {
          for (const { key } of part) this.remember(key);
          throw unavailable(error);
        }
      }),
    );
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
    return results.reduce((sum, result) => sum + (result.status === 'fulfilled' ? result.value : 0), 0);
  }

  /** For a store without dropMany: each key read (when versioned), then deleted; failed deletes are remembered by `delete`. */
  private async dropKeyByKey(drops: readonly KeyDrop[]): Promise<number> {
    const results = await Promise.allSettled(
      drops.map(async ({ key, version }) => {
        if (version !== undefined) {
          const held = await this.get(key);
          if (typeof held?.version === 'number' && held.version >= version) return false;
        }
        return this.delete(key);
      }),
    );
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
    return results.filter((result) => result.status === 'fulfilled' && result.value).length;
  }

  async clear(): Promise<void> {
    const stampAtStart = this.stamp;
    const lostAtStart = this.lost;
    await this.guarded(() => this.inner.clear(), this.adminTimeoutMs);
    // Everything remembered before the clear began is gone from the store now.
    for (const [key, stamp] of this.pending) if (stamp <= stampAtStart) this.pending.delete(key);
    if (this.lost === lostAtStart) this.flushNeeded = false;
  }

  scan(options: ScanOptions): Promise<ScanPage> {
    return this.guarded(() => this.inner.scan(options), this.adminTimeoutMs);
  }

  size(): Promise<{ entries: number; bytes: number }> {
    return this.guarded(() => this.inner.size(), this.adminTimeoutMs);
  }

  async close(): Promise<void> {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    await this.inner.close();
  }

  /**
   * Replays the remembered deletes (or the flush that replaces them) while the breaker stays
   * closed. Runs by itself each time the breaker closes; resolves when that replay is done.
   */
  replayDeletes(): Promise<void> {
    this.replaying ??= this.replay().finally(() => {
      this.replaying = undefined;
    });
    return this.replaying;
  }

  private async replay(): Promise<void> {
    try {
      if (this.flushNeeded) await this.clear();
    } catch (error) {
      // The breaker counted the failure; the next close replays what is left.
      this.report(error, 'replay');
      return;
    }
    for (const key of [...this.pending.keys()]) {
      // A key whose part is still down waits for that part's breaker to close.
      if (this.breakerOf(key).state !== 'closed') continue;
      // A failure is counted by its part's breaker; the next close replays what is left.
      await this.settle(key).catch((error: unknown) => this.report(error, 'replay'));
    }
  }

  /** Deletes a remembered key; forgets it unless a newer delete of it failed meanwhile. */
  private async settle(key: string): Promise<void> {
    const stamp = this.pending.get(key);
    await this.breakerOf(key).run(() => this.inner.delete(key));
    if (stamp !== undefined && this.pending.get(key) === stamp) this.pending.delete(key);
  }

  private remember(key: string): void {
    if (this.flushNeeded) {
      this.lost++;
      return;
    }
    if (!this.pending.has(key) && this.pending.size >= this.maxPendingDeletes) {
      this.flushNeeded = true;
      this.lost++;
      this.pending.clear();
      return;
    }
    // Delete first so the map's order stays the order of the latest failures.
    this.pending.delete(key);
    this.pending.set(key, ++this.stamp);
  }

  /** A call through the breaker whose rejection leaves coded: an open breaker or a timeout is `store_unavailable`. */
  private async guarded<T>(call: () => Promise<T>, timeoutMs?: number, breaker = this.breaker): Promise<T> {
    try {
      return await breaker.run(call, timeoutMs === undefined ? undefined : { timeoutMs });
    } catch (error) {
      throw unavailable(error);
    }
  }

  private report(error: unknown, operation: 'get' | 'set' | 'replay'): void {
    if (!(error instanceof CircuitOpenError)) this.onError?.(error, operation);
  }
}

/**
 * The breaker's own refusals (open, or no answer in time) as `store_unavailable`, with the
 * original as `cause`; the wrapped store's errors pass unchanged (an adapter codes its own).
 */
function unavailable(error: unknown): unknown {
  if (!(error instanceof CircuitOpenError || error instanceof CallTimeoutError)) return error;
  return new FreshcacheError('store_unavailable', `the shared tier is unavailable: ${error.message}`, { cause: error });
}
