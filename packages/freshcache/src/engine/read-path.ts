import type { Entry } from '../seams/entry.js';
import type { CacheParts } from './cache-parts.js';
import type { CacheState, L1Entry, LocalEntry, Lookup, Verdict } from './cache-types.js';
import { toLookup } from './cache-types.js';
import type { LocalSeq } from './sequences.js';

/**
 * The read path: finds a key in L1, then in L2, and judges what it finds against the marks
 * (expired, invalidated, served STALE by the lazy strategy). An L2 entry that may be served is
 * copied into L1; one that may not is reclaimed.
 */
export class ReadPath {
  constructor(private readonly parts: CacheParts) {}

  /** L1's entry for `key` as a lookup (HIT or STALE); an invalid one is removed. */
  fromL1(key: string): Lookup | undefined {
    const { l1, clock, stats } = this.parts;
    // Past its expiry it is judged invalid below, and removed.
    const entry = l1.read(key) as L1Entry | undefined;
    if (entry === undefined) return undefined;
    const now = clock.now();
    const verdict = this.verdict(key, entry, now, entry.generation, entry);
    if (verdict === 'invalid') {
      l1.remove(key);
      return undefined;
    }
    if (verdict === 'stale') stats.staleServed++;
    else stats.l1Hits++;
    return toLookup(entry, verdict === 'stale' ? 'STALE' : 'HIT', 'l1', now);
  }

  /** L2's entry for `key` as a lookup, copied into L1; undefined when absent or not to be served. */
  async fromL2(key: string): Promise<Lookup | undefined> {
    const { l2, clock } = this.parts;
    const stored = l2 === undefined ? undefined : await l2.get(key);
    if (stored === undefined) return undefined;
    const now = clock.now();
    const state = this.admitFromL2(key, stored, now);
    if (state !== undefined) return toLookup(stored, state, 'l2', now);
    await this.reclaimFromL2(key);
    return undefined;
  }

  /** `fromL2` for `get`, which wants only the value: the L2 hit path, kept to one async frame. Counts the miss. */
  async valueFromL2(key: string): Promise<unknown> {
    const { l2, clock, stats } = this.parts;
    const stored = l2 === undefined ? undefined : await l2.get(key);
    if (stored !== undefined) {
      if (this.admitFromL2(key, stored, clock.now()) !== undefined) return stored.value;
      await this.reclaimFromL2(key);
    }
    stats.misses++;
    return undefined;
  }

  /**
   * Judges an entry read at sequence `readAt`. `l1Entry`: the L1 entry itself, whose last
   * verification lets most reads skip the marks, and which records a new one.
   */
  verdict(key: string, entry: Entry, now: number, readAt: LocalSeq, l1Entry?: L1Entry): Verdict {
    const { generations, settings } = this.parts;
    if (entry.expiresAt <= now) return 'invalid';
    const seq = generations.seq;
    if (l1Entry === undefined || l1Entry.verifiedSeq !== seq) {
      const mark = generations.newestFor(key, entry.tags, entry.version);
      if (mark !== undefined && mark.seq > readAt) {
        const staleSince = generations.firstAppliedAfter(readAt);
        return settings.strategy === 'lazy' && now - staleSince <= settings.maxStaleMs ? 'stale' : 'invalid';
      }
      if (l1Entry !== undefined) l1Entry.verifiedSeq = seq;
    }
    return entry.staleAt <= now ? 'stale' : 'fresh';
  }

  /** L1's entry for `key` if it is not past its expiry, without counting a use: for looking around. */
  liveInL1(key: string): L1Entry | undefined {
    const entry = this.parts.l1.peek(key) as L1Entry | undefined;
    return entry !== undefined && entry.expiresAt > this.parts.clock.now() ? entry : undefined;
  }

  writeL1(key: string, entry: Entry, readAt: LocalSeq): void {
    // A copy: L1 keeps its own bookkeeping (verifiedSeq) and must not alias an L2 object.
    // Built field by field, not spread: every L1 entry then shares one hidden class and the hit
    // path stays monomorphic (a spread copy measured 2-3x slower to read).
    const l1Entry: L1Entry = {
      value: entry.value,
      version: entry.version,
      tags: entry.tags,
      createdAt: entry.createdAt,
      expiresAt: entry.expiresAt,
      staleAt: entry.staleAt,
      size: entry.size,
      generation: readAt,
      verifiedSeq: -1 as LocalSeq,
    };
    this.parts.l1.write(key, l1Entry);
    // A value found or filled outdates a remembered not_found (fills and L2 reads, not the hit path).
    this.parts.negatives.delete(key);
  }

  /** Writes a value read at its generation to L2, dated as L2 dates its entries. */
  writeL2(key: string, entry: LocalEntry): Promise<void> {
    return this.parts.l2!.set(key, this.parts.dating.forStore(entry, entry.generation));
  }

  /**
   * Judges an entry read from L2. One that may be served is copied into L1 (dated in this cache's
   * sequence) and counted, and the result says how it is served. Undefined: it may not be served.
   */
  private admitFromL2(key: string, stored: Entry, now: number): CacheState | undefined {
    const { dating, generations, settings, stats } = this.parts;
    const readAt = dating.readAt(stored);
    if (readAt === undefined) return undefined;
    const verdict = this.verdict(key, stored, now, readAt);
    if (verdict === 'invalid') return undefined;
    // Another node may have given it a longer TTL than any this node handed out: keep the marks
    // that can still invalidate it.
    generations.keepFor(Math.min(stored.expiresAt - now, settings.maxTtlMs));
    this.writeL1(key, stored, readAt);
    if (verdict === 'stale') {
      stats.staleServed++;
      return 'STALE';
    }
    stats.l2Hits++;
    return 'HIT';
  }

  /**
   * Reclaiming an entry that may not be served is housekeeping: a read that cannot delete still
   * answers (from the origin); a store that failed to delete remembers it (BreakerStore), and
   * marks refuse it meanwhile.
   */
  private async reclaimFromL2(key: string): Promise<void> {
    if (this.parts.settings.strategy === 'eager') await this.parts.l2!.delete(key).catch(() => {});
  }
}
