import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

/**
 * Latencies in microseconds, in an HDR histogram (3 significant digits): percentiles read from
 * recorded values, never averaged, and histograms of regions or intervals add up exactly.
 */
export function latencyHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** What one kind of request (a region's reads, or the writes) did over a span of time. */
export class Tally {
  readonly latencyUs = latencyHistogram();
  /** 2xx answers (writes: acknowledged commits). */
  ok = 0;
  /** Failures by status and error code ("503 unavailable", "404 not_found") or network error code ("ECONNREFUSED"). */
  readonly errors = new Map<string, number>();
  /** X-Cache of the 2xx answers: HIT, MISS, STALE (reads only). */
  hits = 0;
  misses = 0;
  staleAnswers = 0;
  /** 2xx answers without X-Cache-Version: not judged for freshness. */
  unversioned = 0;

  get failed(): number {
    let total = 0;
    for (const count of this.errors.values()) total += count;
    return total;
  }

  /** HIT / (HIT + MISS + STALE) over the answers that said; undefined when none did. */
  get hitRatio(): number | undefined {
    const said = this.hits + this.misses + this.staleAnswers;
    return said === 0 ? undefined : this.hits / said;
  }

  fail(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  add(other: Tally): void {
    this.latencyUs.add(other.latencyUs);
    this.ok += other.ok;
    for (const [code, count] of other.errors) this.errors.set(code, (this.errors.get(code) ?? 0) + count);
    this.hits += other.hits;
    this.misses += other.misses;
    this.staleAnswers += other.staleAnswers;
    this.unversioned += other.unversioned;
  }

  reset(): void {
    this.latencyUs.reset();
    this.ok = this.hits = this.misses = this.staleAnswers = this.unversioned = 0;
    this.errors.clear();
  }
}

/** A region's (or the writes') tally over the whole run, and over the current progress interval. */
export interface TallyPair {
  total: Tally;
  interval: Tally;
}

/**
 * Everything a run counts, per region and for the writes. Requests are recorded into the current
 * interval only (one histogram per request, not two); `roll()` adds the interval into the totals
 * and starts the next one: the progress display reads the interval, then rolls.
 */
export class LoadStats {
  readonly regions = new Map<string, TallyPair>();
  readonly writes: TallyPair = { total: new Tally(), interval: new Tally() };
  /** Requests the open model could not start because too many were in flight (the client is the limit). */
  dropped = 0;

  constructor(regions: Iterable<string>) {
    for (const name of regions) this.region(name);
  }

  roll(): void {
    for (const pair of [...this.regions.values(), this.writes]) {
      pair.total.add(pair.interval);
      pair.interval.reset();
    }
  }

  region(name: string): TallyPair {
    let found = this.regions.get(name);
    if (!found) this.regions.set(name, (found = { total: new Tally(), interval: new Tally() }));
    return found;
  }
}
