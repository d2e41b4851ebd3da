/**
 * Polaris-style freshness: every write is remembered as (key, version it committed, commit time),
 * and every read as (key, version it got, time it was sent, region). A read is stale beyond the
 * bound when, at the time it was sent, a version newer than the one it got had committed more than
 * `delay(region) + margin` earlier.
 *
 * Times are one process's monotonic milliseconds (`performance.now()`). A write's commit time is
 * when its acknowledgement arrived (the commit happened before that), so a read is never judged
 * stale for a write it could not have seen; and since that write is recorded then, every write
 * that can make a read stale is recorded before the read's answer arrives: reads are judged as they
 * complete, and no read is kept.
 */

/** What one read tells about freshness. */
export type ReadVerdict =
  /** No version newer than the one it got had committed when it was sent. */
  | 'fresh'
  /** It missed a committed version, but within its region's bound. */
  | 'behind'
  /** It missed a version committed more than `delay + margin` before it was sent. */
  | 'stale';

export interface ReadRecord {
  key: number;
  version: number;
  /** When the request was sent. */
  sentAt: number;
  region: string;
}

export interface RegionFreshness {
  region: string;
  delayMs: number;
  /** delay + margin: a read that missed a version committed longer ago than this is stale. */
  boundMs: number;
  /** Reads judged (a 2xx answer with a version that was not marked STALE by the server). */
  reads: number;
  /** Reads that missed a committed version, within the bound. */
  behind: number;
  /** Reads that missed a version committed more than the bound before they were sent. */
  stale: number;
  /** The longest a read's missed version had been committed when the read was sent (0 when none missed any). */
  worstAgeMs: number;
}

/** The writes of one key, ordered by version, with the earliest commit among each suffix. */
class KeyHistory {
  readonly versions: number[] = [];
  readonly committedAt: number[] = [];
  /** suffixMin[i] = min(committedAt[i..]): the earliest commit of any version at or above versions[i]. */
  readonly suffixMin: number[] = [];

  add(version: number, committedAt: number): void {
    // Writes mostly arrive in version order, so this is an append; a late acknowledgement inserts.
    const at = this.firstAbove(version);
    this.versions.splice(at, 0, version);
    this.committedAt.splice(at, 0, committedAt);
    this.suffixMin.splice(at, 0, Math.min(committedAt, this.suffixMin[at] ?? Infinity));
    for (let i = at - 1; i >= 0; i--) {
      const min = Math.min(this.committedAt[i]!, this.suffixMin[i + 1]!);
      if (min === this.suffixMin[i]) break;
      this.suffixMin[i] = min;
    }
  }

  /** The earliest commit time of a version above `version`, or Infinity when none is known. */
  earliestAbove(version: number): number {
    const at = this.firstAbove(version);
    return at < this.versions.length ? this.suffixMin[at]! : Infinity;
  }

  private firstAbove(version: number): number {
    let lo = 0;
    let hi = this.versions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.versions[mid]! <= version) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class FreshnessChecker {
  private readonly keys = new Map<number, KeyHistory>();
  private readonly regions = new Map<string, RegionFreshness>();

  /**
   * @param delays each region's delay in ms: how long its invalidations may take by design
   *   (a region not named here has a delay of 0)
   * @param marginMs added to every region's delay to make its bound
   */
  constructor(
    private readonly delays: ReadonlyMap<string, number>,
    private readonly marginMs: number,
  ) {}

  recordWrite(key: number, version: number, committedAt: number): void {
    let history = this.keys.get(key);
    if (!history) this.keys.set(key, (history = new KeyHistory()));
    history.add(version, committedAt);
  }

  recordRead(read: ReadRecord): ReadVerdict {
    const region = this.region(read.region);
    region.reads++;
    const earliest = this.keys.get(read.key)?.earliestAbove(read.version) ?? Infinity;
    const ageMs = read.sentAt - earliest;
    if (!(ageMs > 0)) return 'fresh';
    if (ageMs > region.worstAgeMs) region.worstAgeMs = ageMs;
    if (ageMs > region.boundMs) {
      region.stale++;
      return 'stale';
    }
    region.behind++;
    return 'behind';
  }

  /** Every region read so far, and every region with a known delay. */
  summary(): RegionFreshness[] {
    for (const name of this.delays.keys()) this.region(name);
    return [...this.regions.values()].map((r) => ({ ...r }));
  }

  private region(name: string): RegionFreshness {
    let found = this.regions.get(name);
    if (!found) {
      const delayMs = this.delays.get(name) ?? 0;
      this.regions.set(name, (found = { region: name, delayMs, boundMs: delayMs + this.marginMs, reads: 0, behind: 0, stale: 0, worstAgeMs: 0 }));
    }
    return found;
  }
}

/** The share of judged reads that were not stale beyond the bound: 1 when none was judged. */
export function consistency(f: Pick<RegionFreshness, 'reads' | 'stale'>): number {
  return f.reads === 0 ? 1 : 1 - f.stale / f.reads;
}

/**
 * Consistency as "nines": 99.99 % is 4. With no stale read, the reads only show at least
 * floor(log10(reads)) nines (`atLeast`); undefined when no read was judged.
 */
export function nines(f: Pick<RegionFreshness, 'reads' | 'stale'>): { nines: number; atLeast: boolean } | undefined {
  if (f.reads === 0) return undefined;
  // The epsilon: 1 - 0.9999 is not exactly 1e-4 in binary, and 4 nines must not print as 3.
  if (f.stale === 0) return { nines: Math.floor(Math.log10(f.reads) + 1e-9), atLeast: true };
  return { nines: Math.max(0, Math.floor(-Math.log10(f.stale / f.reads) + 1e-9)), atLeast: false };
}
