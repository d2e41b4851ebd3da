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
 */
export interface Mark {
  /** Region sequence at which the invalidation was applied. */
  seq: number;
  /** When it was applied (region clock). */
  appliedAt: number;
  /** The origin version that caused it, when known. */
  version: number | undefined;
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
  seq = 0;
  private readonly keyMarks = new Map<string, Mark>();
  private readonly tagMarks = new Map<string, Mark>();
  private readonly prefixMarks = new Map<string, Mark>();
  /** Distinct lengths of marked prefixes: a read checks one map lookup per length, not per prefix. */
  private prefixLengths: number[] = [];
  private allMark: Mark | undefined;
  /** When each recent sequence was applied: appliedAt of seq n is times[n - timesBase]. */
  private times: number[] = [];
  private timesBase = 1;

  apply(targets: InvalidationTargets, now: number, version?: number): Mark {
    const mark: Mark = { seq: ++this.seq, appliedAt: now, version };
    this.times.push(now);
    for (const key of targets.keys ?? []) this.keyMarks.set(key, mark);
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

  /** The newest mark that applies to a key with these tags, or undefined. */
  newestFor(key: string, tags: readonly string[]): Mark | undefined {
    let newest = this.allMark;
    const keyMark = this.keyMarks.get(key);
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
   * When the first invalidation after sequence `seq` was applied: the earliest moment an entry
   * read at `seq` can have gone stale. -Infinity when that is older than the pruning horizon.
   * (Marks are overwritten by newer ones, so the matching mark's own time would restart the
   * stale window on every purge; this bound never does.)
   */
  firstAppliedAfter(seq: number): number {
    return this.times[seq + 1 - this.timesBase] ?? -Infinity;
  }

  /** Forgets marks applied before `before`: no entry that old can still be served. */
  prune(before: number): number {
    let removed = 0;
    for (const marks of [this.keyMarks, this.tagMarks, this.prefixMarks]) {
      for (const [name, mark] of marks) {
        if (mark.appliedAt < before) {
          marks.delete(name);
          removed++;
        }
      }
    }
    if (this.allMark && this.allMark.appliedAt < before) this.allMark = undefined;
    let drop = 0;
    while (drop < this.times.length && this.times[drop]! < before) drop++;
    this.times = this.times.slice(drop);
    this.timesBase += drop;
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
