import type { LocalSeq, LogPosition } from './sequences.js';
import { localSeq, logPosition } from './sequences.js';

/**
 * Generation counters: how a purge by tag or prefix costs O(1).
 *
 * Applying an invalidation bumps the region's sequence and records a mark for each key, tag and
 * prefix it names. Nothing is scanned or deleted then. An entry remembers the sequence at which
 * its value was read from the source (its generation); on read, the newest mark that matches the
 * entry's key, one of its tags or one of its key's prefixes decides: a mark newer than the entry
 * invalidates it. Memory of invalidated entries is reclaimed when they are next read or evicted.
 *
 * Marks older than the longest an entry can live plus the longest a load can run (max TTL + load
 * timeout) can no longer invalidate anything and are pruned.
 *
 * A shared tier (a region's Redis, read by several nodes) needs a clock all nodes agree on, and a
 * node's own sequence is not one. The invalidation log's position is: every node applies the same
 * events in the same order. So invalidations that come from the log also record their position,
 * an entry written to a shared tier carries the position its reader had reached instead of its
 * sequence (`positionAt`), and a node reading it back turns that position into its own sequence
 * (`seqAtPosition`): the sequence at which it applied that position. Whatever this node applied
 * after that position then invalidates the entry, exactly as for its own entries. An entry older
 * than the node's memory (`trustedFrom`: where it started, resumed after a gap, or pruned to)
 * cannot be judged and counts as invalid.
 */
export interface Mark {
  /** This cache's sequence at which the invalidation was applied. */
  seq: LocalSeq;
  /** The log position this cache had reached when the mark was applied (its own, for a log event). */
  position: LogPosition;
  /** When it was applied (region clock). */
  appliedAt: number;
  /**
   * A key mark's version floor (the version rule): an entry or fill of this key holding an origin
   * version >= `version` is as new as the change, and this mark does not make it stale. Only on
   * the per-key marks of an insert's or update's key target of a versioned table; undefined on
   * every other mark (deletes, truncates, tags, prefixes, purges), which use the generation check.
   */
  version: number | undefined;
  /** Under a versioned key mark: the newest unversioned mark of that key it replaced, still binding on entries that meet the floor. */
  under?: Mark;
}

export interface InvalidationTargets {
  keys?: readonly string[];
  tags?: readonly string[];
  prefixes?: readonly string[];
  /** Invalidates everything (used after a gap in the log, or when a region switches to CDC). */
  all?: boolean;
}

export class Generations {
  /** Increases by one per applied invalidation. An entry is valid while no matching mark is newer. */
  private current = localSeq(0);
  private readonly keyMarks = new Map<string, Mark>();
  private readonly tagMarks = new Map<string, Mark>();
  private readonly prefixMarks = new Map<string, Mark>();
  /** Distinct lengths of marked prefixes: a read checks one map lookup per length, not per prefix. */
  private prefixLengths: number[] = [];
  private allMark: Mark | undefined;
  /** When each recent sequence was applied: appliedAt of seq n is times[n - timesBase]. */
  private times: number[] = [];
  private timesBase = 1;
  /** Newest log position applied. Log positions only grow, so they order events across nodes. */
  private reached = logPosition(0);
  /** Entries of a shared tier read before this position cannot be judged: this cache did not see, or no longer remembers, every event since. */
  private trusted = logPosition(0);
  /** The sequence at which each recent log position was applied, in order (positions and seqs both ascending). */
  private positioned: { position: LogPosition; seq: LocalSeq; appliedAt: number }[] = [];
  /** The longest an entry may live: marks older than it (plus a load's longest run) are pruned. */
  private longestLifeMs = 0;
  private lastPruneAt = 0;

  /** This cache's sequence now. */
  get seq(): LocalSeq {
    return this.current;
  }

  /** The newest log position applied. */
  get position(): LogPosition {
    return this.reached;
  }

  /** Shared entries read before this position count as invalid. */
  get trustedFrom(): LogPosition {
    return this.trusted;
  }

  /**
   * Records an invalidation. `position`: the log event it comes from (positions must be applied in
   * log order); absent for a local one (a flush, a write racing a load).
   */
  apply(targets: InvalidationTargets, now: number, options: { keyVersions?: Readonly<Record<string, number>>; position?: number } = {}): Mark {
    const { keyVersions, position } = options;
    if (position !== undefined && position > this.reached) this.reached = logPosition(position);
    this.current = localSeq(this.current + 1);
    const mark: Mark = { seq: this.current, position: this.reached, appliedAt: now, version: undefined };
    this.times.push(now);
    if (position !== undefined) this.positioned.push({ position: this.reached, seq: mark.seq, appliedAt: now });
    for (const key of targets.keys ?? []) {
      const version = versionOf(keyVersions, key);
      this.keyMarks.set(key, version === undefined ? mark : this.versioned(key, mark, version));
    }
    for (const tag of targets.tags ?? []) this.tagMarks.set(tag, mark);
    for (const prefix of targets.prefixes ?? []) {
      this.prefixMarks.set(prefix, mark);
      // Lengths are few (at most the key limit), so keeping them sorted costs nothing per purge.
      if (!this.prefixLengths.includes(prefix.length)) {
        this.prefixLengths.push(prefix.length);
        this.prefixLengths.sort((a, b) => a - b);
      }
    }
    if (targets.all) this.allMark = mark;
    return mark;
  }

  /**
   * The newest mark that applies to a key with these tags, or undefined. `version`: the origin
   * version the entry (or fill) holds; a versioned key mark whose floor it meets does not apply,
   * only the unversioned mark it replaced does.
   */
  newestFor(key: string, tags: readonly string[], version?: number): Mark | undefined {
    let newest = this.allMark;
    let keyMark = this.keyMarks.get(key);
    if (keyMark?.version !== undefined && version !== undefined && version >= keyMark.version) keyMark = keyMark.under;
    if (keyMark && (!newest || keyMark.seq > newest.seq)) newest = keyMark;
    for (const tag of tags) {
      const mark = this.tagMarks.get(tag);
      if (mark && (!newest || mark.seq > newest.seq)) newest = mark;
    }
    for (const length of this.prefixLengths) {
      if (length > key.length) break;
      const mark = this.prefixMarks.get(key.slice(0, length));
      if (mark && (!newest || mark.seq > newest.seq)) newest = mark;
    }
    return newest;
  }

  /**
   * `key`'s own mark with a version floor. Replacing the key's previous mark must not forget what
   * it asked: an unversioned one stays binding underneath, a versioned one raises the floor (a
   * higher floor only drops more, never keeps an older value).
   */
  private versioned(key: string, mark: Mark, version: number): Mark {
    const previous = this.keyMarks.get(key);
    const under = previous === undefined ? undefined : previous.version === undefined ? previous : previous.under;
    const floor = previous?.version === undefined ? version : Math.max(version, previous.version);
    return { ...mark, version: floor, ...(under === undefined ? {} : { under }) };
  }

  /**
   * When the first invalidation after sequence `seq` was applied: the earliest moment an entry
   * read at `seq` can have gone stale. -Infinity when that is older than the pruning horizon.
   * (Marks are overwritten by newer ones, so the matching mark's own time would restart the
   * stale window on every purge; this bound never does.)
   */
  firstAppliedAfter(seq: LocalSeq): number {
    return this.times[seq + 1 - this.timesBase] ?? -Infinity;
  }

  /**
   * Entries of a shared tier read before `position` count as invalid from now on: after a gap in
   * the log, at a start, or when the log was lost (Infinity until the new log's first event). Call
   * it after the flush mark, so that a load begun before it keeps its old position.
   */
  distrustBefore(position: number, now: number): void {
    // Never lowered: trust, once withdrawn from older entries, is not given back by a later call.
    if (position < this.trusted && Number.isFinite(this.trusted)) return;
    this.trusted = logPosition(position);
    if (Number.isFinite(position) && position > this.reached) {
      this.reached = logPosition(position);
      this.positioned.push({ position: this.reached, seq: this.current, appliedAt: now });
    }
  }

  /** The log position this cache had reached at sequence `seq`, for an entry written to a shared tier. */
  positionAt(seq: LocalSeq): LogPosition {
    const found = lastAtOrBefore(this.positioned, (p) => p.seq <= seq);
    // Older than anything remembered: position 0 makes the entry untrusted, never fresher than it is.
    return found?.position ?? logPosition(0);
  }

  /**
   * This cache's sequence for an entry of a shared tier read at log `position`: the sequence at
   * which this cache applied that position (so every later invalidation here is newer than the
   * entry), the current one if this cache has not reached it yet, or undefined when the entry is
   * older than what this cache can judge.
   */
  seqAtPosition(position: LogPosition): LocalSeq | undefined {
    if (position < this.trusted) return undefined;
    if (position >= this.reached) return this.current;
    return lastAtOrBefore(this.positioned, (p) => p.position <= position)?.seq;
  }

  /** An entry (or remembered answer) may live `lifeMs`: marks must outlive it. */
  keepFor(lifeMs: number): void {
    if (lifeMs > this.longestLifeMs) this.longestLifeMs = lifeMs;
  }

  /**
   * Marks that no live entry or running load (up to `loadTimeoutMs`) can predate are dead weight.
   * Pruning walks every mark, so it runs at most once a minute to keep a purge O(1) amortised.
   */
  pruneIfDue(now: number, loadTimeoutMs: number): void {
    if (now - this.lastPruneAt < 60_000) return;
    this.lastPruneAt = now;
    this.prune(now - this.longestLifeMs - loadTimeoutMs);
  }

  /** Forgets marks applied before `before`: no entry that old can still be served. */
  prune(before: number): number {
    let removed = 0;
    for (const marks of [this.keyMarks, this.tagMarks, this.prefixMarks]) {
      for (const [name, mark] of marks) {
        if (mark.appliedAt < before) {
          marks.delete(name);
          removed++;
        } else if (mark.under && mark.under.appliedAt < before) {
          // Per key (versioned marks are never shared): nothing that old is still served.
          delete mark.under;
        }
      }
    }
    if (this.allMark && this.allMark.appliedAt < before) this.allMark = undefined;
    let drop = 0;
    while (drop < this.times.length && this.times[drop]! < before) drop++;
    this.times = this.times.slice(drop);
    this.timesBase += drop;
    let forgotten = 0;
    while (forgotten < this.positioned.length && this.positioned[forgotten]!.appliedAt < before) forgotten++;
    if (forgotten > 0) {
      // Marks up to this position are gone: a shared entry read before it can no longer be judged.
      // The last forgotten record stays as the anchor that maps that position to its sequence, so
      // entries read at it (after a quiet spell, most of them) are still judged, not all reloaded.
      this.trusted = logPosition(Math.max(this.trusted, this.positioned[forgotten - 1]!.position));
      this.positioned = this.positioned.slice(forgotten - 1);
    }
    this.recomputePrefixLengths();
    return removed;
  }

  get size(): number {
    return this.keyMarks.size + this.tagMarks.size + this.prefixMarks.size;
  }

  private recomputePrefixLengths(): void {
    this.prefixLengths = [...new Set([...this.prefixMarks.keys()].map((p) => p.length))].sort((a, b) => a - b);
  }
}

/**
 * The version `keyVersions` gives `key`, or undefined: it comes from the log, so anything but an
 * own finite number (a missing key, an inherited name, garbage) means no version.
 */
export function versionOf(keyVersions: unknown, key: string): number | undefined {
  if (typeof keyVersions !== 'object' || keyVersions === null || !Object.hasOwn(keyVersions, key)) return undefined;
  const version = (keyVersions as Record<string, unknown>)[key];
  return typeof version === 'number' && Number.isFinite(version) ? version : undefined;
}

/** The last item for which `test` holds, in an array where it holds for a prefix (binary search). */
function lastAtOrBefore<T>(items: readonly T[], test: (item: T) => boolean): T | undefined {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (test(items[middle]!)) low = middle + 1;
    else high = middle;
  }
  return low === 0 ? undefined : items[low - 1];
}
