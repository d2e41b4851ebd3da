import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FreshnessChecker, consistency, nines } from '../../packages/freshcache-server/src/tools/load/freshness-checker.js';

const delays = new Map([
  ['near', 100],
  ['far', 600],
]);

describe('FreshnessChecker', () => {
  it('judges a read by the oldest newer version committed before it was sent', () => {
    const checker = new FreshnessChecker(delays, 30);
    checker.recordWrite(1, 5, 1_000);
    checker.recordWrite(1, 6, 1_050);
    // Version 4 missed version 5, committed 131 ms before: beyond 100 + 30.
    expect(checker.recordRead({ key: 1, version: 4, sentAt: 1_131, region: 'near' })).toBe('stale');
    // Exactly at the bound is within it.
    expect(checker.recordRead({ key: 1, version: 4, sentAt: 1_130, region: 'near' })).toBe('behind');
    // Version 5 missed only version 6, committed 81 ms before.
    expect(checker.recordRead({ key: 1, version: 5, sentAt: 1_131, region: 'near' })).toBe('behind');
    expect(checker.recordRead({ key: 1, version: 6, sentAt: 5_000, region: 'near' })).toBe('fresh');
    // The far region's bound is 630 ms.
    expect(checker.recordRead({ key: 1, version: 4, sentAt: 1_600, region: 'far' })).toBe('behind');
    // A version committed after the read was sent is not one it could have seen.
    expect(checker.recordRead({ key: 1, version: 4, sentAt: 999, region: 'near' })).toBe('fresh');
    // Another key's writes do not count.
    expect(checker.recordRead({ key: 2, version: 1, sentAt: 9_000, region: 'near' })).toBe('fresh');

    const near = checker.summary().find((r) => r.region === 'near')!;
    expect(near).toEqual({ region: 'near', delayMs: 100, boundMs: 130, reads: 6, behind: 2, stale: 1, worstAgeMs: 131 });
  });

  it('uses the earliest commit among newer versions when acknowledgements arrive out of order', () => {
    const checker = new FreshnessChecker(delays, 0);
    checker.recordWrite(1, 8, 2_000);
    checker.recordWrite(1, 7, 1_000); // committed first, acknowledged last
    expect(checker.recordRead({ key: 1, version: 6, sentAt: 1_150, region: 'near' })).toBe('stale');
    expect(checker.recordRead({ key: 1, version: 7, sentAt: 2_050, region: 'near' })).toBe('behind');
  });

  it('counts 4 nines at 99.99 %, and "at least" the sample size allows with no stale read', () => {
    expect(nines({ reads: 10_000, stale: 1 })).toEqual({ nines: 4, atLeast: false });
    expect(nines({ reads: 10_000, stale: 5 })).toEqual({ nines: 3, atLeast: false });
    expect(nines({ reads: 10, stale: 10 })).toEqual({ nines: 0, atLeast: false });
    expect(nines({ reads: 250_000, stale: 0 })).toEqual({ nines: 5, atLeast: true });
    expect(nines({ reads: 0, stale: 0 })).toBeUndefined();
    expect(consistency({ reads: 10_000, stale: 1 })).toBeCloseTo(0.9999, 10);
  });

  // Synthetic histories: writes of a few keys with unique increasing versions and random commit
  // times, reads of random versions sent at random times with random latencies. Events are fed in
  // the order the load tester records them (a write when acknowledged, a read when answered), or
  // with every write first, in any order of commit times.
  it('flags exactly the reads that are stale beyond the bound (property)', () => {
    const write = fc.record({ key: fc.integer({ min: 1, max: 3 }), committedAt: fc.integer({ min: 0, max: 2_000 }) });
    const read = fc.record({
      key: fc.integer({ min: 1, max: 3 }),
      versionPick: fc.integer({ min: 0, max: 40 }),
      sentAt: fc.integer({ min: 0, max: 2_500 }),
      latency: fc.integer({ min: 0, max: 300 }),
      region: fc.constantFrom('near', 'far', 'unknown'),
    });
    fc.assert(
      fc.property(fc.array(write, { maxLength: 40 }), fc.array(read, { maxLength: 60 }), fc.integer({ min: 0, max: 200 }), fc.boolean(), (writes, reads, margin, writesFirst) => {
        const committed = writes.map((w, i) => ({ ...w, version: i + 1 }));
        type Event = { at: number; order: number; write?: (typeof committed)[number]; read?: { key: number; version: number; sentAt: number; region: string } };
        const events: Event[] = [
          ...committed.map((w) => ({ at: w.committedAt, order: 0, write: w })),
          ...reads.map((r) => ({ at: r.sentAt + r.latency, order: 1, read: { key: r.key, version: r.versionPick, sentAt: r.sentAt, region: r.region } })),
        ];
        if (!writesFirst) events.sort((a, b) => a.at - b.at || a.order - b.order);

        const checker = new FreshnessChecker(delays, margin);
        const expectedStale = new Map<string, number>();
        for (const event of events) {
          if (event.write) {
            checker.recordWrite(event.write.key, event.write.version, event.write.committedAt);
            continue;
          }
          const r = event.read!;
          const bound = (delays.get(r.region) ?? 0) + margin;
          const stale = committed.some((w) => w.key === r.key && w.version > r.version && r.sentAt - w.committedAt > bound);
          if (stale) expectedStale.set(r.region, (expectedStale.get(r.region) ?? 0) + 1);
          expect(checker.recordRead(r) === 'stale').toBe(stale);
        }
        for (const region of checker.summary()) expect(region.stale).toBe(expectedStale.get(region.region) ?? 0);
      }),
      { numRuns: 300 },
    );
  });
});
