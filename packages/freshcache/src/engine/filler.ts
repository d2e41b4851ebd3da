import type { FillLeases } from '../seams/store.js';
import type { CacheParts } from './cache-parts.js';
import { AttemptContext } from './attempt-context.js';
import type { Loader, Lookup, WriteOptions } from './cache-types.js';
import { toLookup } from './cache-types.js';
import { FreshcacheError } from './errors.js';
import type { InvalidationTargets } from './generations.js';
import { versionOf } from './generations.js';
import { makeEntry } from './make-entry.js';
import type { ReadPath } from './read-path.js';
import type { LocalSeq } from './sequences.js';
import { SingleFlight } from './single-flight.js';

/**
 * What a fill comes back with: the value (or the loader's not_found). `refusedReadAt`: the read
 * that gave it began at that sequence and was overtaken by an invalidation that matches it, so
 * the cache kept nothing; the caller may have seen that invalidation and read again.
 */
export type FillOutcome =
  | { kind: 'value'; lookup: Lookup; refusedReadAt?: LocalSeq }
  | { kind: 'not_found'; error: FreshcacheError; refusedReadAt?: LocalSeq };

/**
 * Reads of a flight that an invalidation may abort and start again, and times a reader reads
 * again after a refused fill. The last read runs to the end, so a key invalidated faster than it
 * loads still answers (with a value the cache refuses).
 */
export const MAX_REREADS = 3;

/** One read of the source in flight, for the invalidations that may overtake it. */
interface Attempt {
  readonly key: string;
  readonly context: AttemptContext;
  readonly optionTags: readonly string[] | undefined;
  readonly abortable: boolean;
}

/** Why an overtaken read's signal was aborted: the cache reads the key again. */
export class LoadOvertakenError extends Error {
  override readonly name = 'AbortError';
}

/** Returned by an attempt that an invalidation overtook and that may be read again. */
const OVERTAKEN = Symbol('overtaken');

/**
 * The filler: loads a key from its source and fills both tiers, one flight per key. It owns the
 * flights, the shared-L2 leases (one node of the region loads, the others wait for its fill),
 * the load timeout, and the stale-set guard: a read that an invalidation overtakes is aborted
 * (its loader's signal) and read again, and a value read before a change is never kept.
 */
export class Filler {
  private readonly flights = new SingleFlight<FillOutcome>();
  private readonly attempts = new Map<string, Attempt>();

  constructor(
    private readonly parts: CacheParts,
    private readonly read: ReadPath,
    private readonly onRevalidateError: (key: string, error: unknown) => void,
  ) {}

  /** Whether a load of `key` is in flight. */
  has(key: string): boolean {
    return this.flights.has(key);
  }

  /** A miss: L2 again, then the source, in the key's single flight (joining one in flight). */
  miss(key: string, loader: Loader<unknown>, options: WriteOptions): Promise<FillOutcome> {
    return this.flights.run(key, () => this.missPath(key, loader, options));
  }

  /** Reads `key` from the source whatever the tiers hold (warming, refresh-ahead), in its single flight. */
  reload(key: string, loader: Loader<unknown>): Promise<FillOutcome> {
    return this.flights.run(key, () => this.fill(key, loader, {}, this.parts.generations.seq));
  }

  /** Reads a STALE key again in the background, unless a load of it is in flight. */
  revalidate(key: string, loader: Loader<unknown>, options: WriteOptions): void {
    if (this.flights.has(key)) return;
    this.parts.stats.revalidations++;
    this.flights.run(key, () => this.fill(key, loader, options, this.parts.generations.seq)).then(
      (outcome) => {
        if (outcome.kind === 'not_found') this.onRevalidateError(key, outcome.error);
      },
      (error: unknown) => this.onRevalidateError(key, error),
    );
  }

  /**
   * Aborts the reads in flight that an invalidation just applied overtakes, so that they stop
   * running against the source and are read again. A key target with a version is left to the
   * version rule: the read may well return that version, which the cache then keeps.
   */
  overtake(targets: InvalidationTargets, keyVersions?: Readonly<Record<string, number>>): void {
    if (this.attempts.size === 0) return;
    for (const key of targets.keys ?? []) {
      const attempt = this.attempts.get(key);
      if (attempt !== undefined && versionOf(keyVersions, key) === undefined) abort(attempt);
    }
    const prefixes = targets.prefixes ?? [];
    const tags = new Set(targets.tags ?? []);
    if (!targets.all && prefixes.length === 0 && tags.size === 0) return;
    for (const attempt of this.attempts.values()) {
      const attemptTags = attempt.context.tags ?? attempt.optionTags ?? [];
      if (targets.all || prefixes.some((prefix) => attempt.key.startsWith(prefix)) || attemptTags.some((tag) => tags.has(tag))) abort(attempt);
    }
  }

  private async missPath(key: string, loader: Loader<unknown>, options: WriteOptions): Promise<FillOutcome> {
    const { generations, l2, dating, stats } = this.parts;
    // Captured before reading L2 or the origin: an invalidation applied after this point is newer
    // than whatever we are about to read.
    const readAt = generations.seq;
    const fromL2 = await this.read.fromL2(key);
    if (fromL2) return { kind: 'value', lookup: fromL2 };
    const leases = dating.shared ? l2?.leases : undefined;
    if (leases) return this.leasedMiss(key, loader, options, leases);
    stats.misses++;
    return this.fill(key, loader, options, readAt);
  }

  /**
   * A miss on an L2 shared by the region's nodes: one node takes the key's lease and loads; the
   * others wait for its fill (single flight across nodes). Waiting polls L2 with backoff, bounded
   * by the load timeout, and a holder that fails or dies frees the lease (release, or its expiry)
   * for the next node. If the shared tier cannot be reached, this node loads by itself.
   */
  private async leasedMiss(key: string, loader: Loader<unknown>, options: WriteOptions, leases: FillLeases): Promise<FillOutcome> {
    const { generations, clock, settings, stats } = this.parts;
    const deadline = clock.now() + settings.loadTimeoutMs;
    let waitMs = 2;
    for (;;) {
      const readAt = generations.seq;
      let token: string | undefined;
      try {
        token = await leases.acquire(key, settings.loadTimeoutMs);
      } catch {
        break;
      }
      if (token !== undefined) {
        // Another node may have filled the key between our miss and our lease: look once more.
        // (An entry this node judges invalid does not count: it loads, under the lease.)
        const lease = { leases, token, filled: false };
        try {
          const filledMeanwhile = await this.read.fromL2(key);
          if (filledMeanwhile) return { kind: 'value', lookup: filledMeanwhile };
          stats.misses++;
          return await this.fill(key, loader, options, readAt, lease);
        } finally {
          // Every way out but a fill (which released it) frees the lease now, so the region's
          // other nodes need not wait for it to expire. (A read again may have renewed it.)
          if (!lease.filled) leases.release(key, lease.token).catch(() => {});
        }
      }
      await new Promise<void>((resolve) => clock.setTimeout(resolve, waitMs));
      waitMs = Math.min(waitMs * 2, 50);
      const filled = await this.read.fromL2(key);
      if (filled) {
        stats.leaseWaits++;
        return { kind: 'value', lookup: filled };
      }
      if (clock.now() >= deadline) break;
    }
    stats.misses++;
    return this.fill(key, loader, options, generations.seq);
  }

  /** Reads through `loader` and fills; a read an invalidation overtook is read again, at most MAX_REREADS times. */
  private async fill(key: string, loader: Loader<unknown>, options: WriteOptions, readAt: LocalSeq, lease?: Lease): Promise<FillOutcome> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(key, loader, options, readAt, attempt <= MAX_REREADS, lease);
      if (outcome !== OVERTAKEN) return outcome;
      // Read again: the invalidation that overtook the read is applied now.
      readAt = this.parts.generations.seq;
      if (lease) lease = await this.renew(key, lease);
    }
  }

  /**
   * A lease of its own for a read again: the old one ran during the overtaken read, and the
   * invalidation may have revoked it (a delete of the key in the shared tier), which would refuse
   * the new read's fill. Undefined when another node took the key meanwhile or the tier cannot be
   * reached: the read then fills as a miss without a lease does.
   */
  private async renew(key: string, lease: Lease): Promise<Lease | undefined> {
    const { leases } = lease;
    await leases.release(key, lease.token).catch(() => {});
    const token = await leases.acquire(key, this.parts.settings.loadTimeoutMs).catch(() => undefined);
    if (token === undefined) return undefined;
    lease.token = token;
    return lease;
  }

  /** One read of the source, and the fill of both tiers unless an invalidation overtook the read. */
  private async attempt(
    key: string,
    loader: Loader<unknown>,
    options: WriteOptions,
    readAt: LocalSeq,
    abortable: boolean,
    lease: Lease | undefined,
  ): Promise<FillOutcome | typeof OVERTAKEN> {
    const { generations, stats, clock, l2, negatives, l1 } = this.parts;
    const context = new AttemptContext(key);
    const attempt: Attempt = { key, context, optionTags: options.tags, abortable };
    this.attempts.set(key, attempt);
    stats.originFetches++;
    let value: unknown;
    try {
      value = await this.loadWithin(loader, context);
    } catch (error) {
      if (error instanceof LoadOvertakenError && context.reason === error) {
        stats.staleSetsRefused++;
        return OVERTAKEN;
      }
      // "No such record" is an answer from a healthy origin, not an origin failure.
      if (!(error instanceof FreshcacheError && error.code === 'not_found')) {
        stats.loadErrors++;
        throw error;
      }
      if (negatives.remember(key, error, context.tags ?? options.tags ?? [], readAt) === 'overtaken') {
        stats.staleSetsRefused++;
        return { kind: 'not_found', error, refusedReadAt: readAt };
      }
      // The source says the key is gone: an L1 copy (one being revalidated) is no longer to be served.
      l1.remove(key);
      return { kind: 'not_found', error };
    } finally {
      if (this.attempts.get(key) === attempt) this.attempts.delete(key);
    }
    const entry = makeEntry(
      this.parts,
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
      readAt,
    );
    const lookup = toLookup(entry, 'MISS', 'origin', clock.now());
    // A fill that loaded the version an overtaking change wrote (or newer) is as new as it: kept.
    const overtakenBy = generations.newestFor(key, entry.tags, entry.version);
    if (overtakenBy !== undefined && overtakenBy.seq > readAt) {
      // The read began before a change that matches it and that did not abort it (a write or delete
      // of the key, a version the read might have met, a tag the loader named only on return):
      // the value may predate the change. Callers who asked before the read began get it (it is
      // as fresh as their request); those who came later read again; the cache keeps nothing.
      stats.staleSetsRefused++;
      return { kind: 'value', lookup, refusedReadAt: readAt };
    }
    if (lease) {
      const filled = await lease.leases.fill(key, lease.token, this.parts.dating.forStore(entry, readAt)).catch(() => undefined);
      lease.filled = filled === true;
      if (filled === false) {
        // The lease was revoked: a set or an invalidation reached the shared tier after this read
        // began. Answer the callers who asked before it, keep nothing.
        stats.staleSetsRefused++;
        return { kind: 'value', lookup };
      }
    } else if (l2) {
      await this.read.writeL2(key, entry);
    }
    this.read.writeL1(key, entry, readAt);
    return { kind: 'value', lookup };
  }

  /** The loader's value, or its error; rejects at once when the read is abandoned (timeout, overtaken). */
  private loadWithin(loader: Loader<unknown>, context: AttemptContext): Promise<unknown> {
    const { clock, settings } = this.parts;
    return new Promise((resolve, reject) => {
      const timer = clock.setTimeout(
        () => context.abandon(new FreshcacheError('origin_unavailable', `loading "${context.key}" took longer than ${settings.loadTimeoutMs} ms`)),
        settings.loadTimeoutMs,
      );
      context.onAbandon((reason) => {
        timer.cancel();
        reject(reason);
      });
      let loading: Promise<unknown>;
      try {
        loading = Promise.resolve(loader(context));
      } catch (error) {
        timer.cancel();
        reject(error);
        return;
      }
      loading.then(
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
}

interface Lease {
  readonly leases: FillLeases;
  /** The lease held now (a read again takes a new one). */
  token: string;
  filled: boolean;
}

function abort(attempt: Attempt): void {
  if (attempt.abortable && !attempt.context.abandoned) {
    attempt.context.abandon(new LoadOvertakenError(`an invalidation overtook the load of "${attempt.key}"; it is read again`));
  }
}
