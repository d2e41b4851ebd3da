import { describe, expect, it } from 'vitest';
import { FreshnessChecker } from '../../packages/freshcache-server/src/tools/load/freshness-checker.js';
import { buildReport, formatReport } from '../../packages/freshcache-server/src/tools/load/load-report.js';
import { LoadStats } from '../../packages/freshcache-server/src/tools/load/load-stats.js';

/** A run of 2 s over two regions, recorded as the driver records it (into the interval, then rolled). */
function sampleRun() {
  const stats = new LoadStats(['us-east', 'eu-west']);
  const freshness = new FreshnessChecker(new Map([['us-east', 100], ['eu-west', 300]]), 50);
  const east = stats.region('us-east').interval;
  // 1,000 reads at 1..1000 µs: p50 500 µs, p99 990 µs, p99.9 999 µs.
  for (let us = 1; us <= 1000; us++) {
    east.latencyUs.recordValue(us);
    east.ok++;
    if (us <= 900) east.hits++;
    else east.misses++;
  }
  east.fail('503 unavailable');
  east.fail('ECONNREFUSED');
  stats.roll(); // the first interval
  const west = stats.region('eu-west').interval;
  west.latencyUs.recordValue(20_000);
  west.ok++;
  west.staleAnswers++;
  stats.writes.interval.ok += 3;
  stats.writes.interval.latencyUs.recordValue(4_000);
  stats.writes.interval.fail('404 not_found');
  stats.roll();

  freshness.recordWrite(1, 10, 1_000);
  for (let i = 0; i < 9_999; i++) freshness.recordRead({ key: 1, version: 10, sentAt: 2_000, region: 'us-east' });
  freshness.recordRead({ key: 1, version: 9, sentAt: 1_400, region: 'us-east' }); // 400 ms behind: beyond 150
  freshness.recordRead({ key: 1, version: 9, sentAt: 1_200, region: 'eu-west' }); // 200 ms behind: within 350
  return { stats, freshness, elapsedMs: 2_000, abandoned: 0, cpuMs: 500 };
}

describe('the load report', () => {
  it('gives each region its throughput, exact percentiles, hit ratio, errors by code and freshness', () => {
    const report = buildReport(sampleRun(), { kind: 'closed', connections: 10 }, 50);
    const east = report.regions.find((r) => r.region === 'us-east')!;
    expect(east).toMatchObject({
      reads: 1_002,
      ok: 1_000,
      failed: 2,
      readsPerSecond: 501,
      latencyMs: { p50: 0.5, p99: 0.99, p999: 0.999, max: 1 },
      hitRatio: 0.9,
      errors: { '503 unavailable': 1, ECONNREFUSED: 1 },
      freshness: { delayMs: 100, boundMs: 150, judged: 10_000, staleBeyondBound: 1, worstAgeMs: 400, worstBeyondDelayMs: 300, nines: 4, ninesAtLeast: false },
    });
    expect(east.freshness.consistency).toBeCloseTo(0.9999, 10);
    const west = report.regions.find((r) => r.region === 'eu-west')!;
    expect(west).toMatchObject({ reads: 1, hitRatio: 0, cache: { hit: 0, miss: 0, stale: 1 }, freshness: { judged: 1, behind: 1, staleBeyondBound: 0, nines: 0, ninesAtLeast: true } });
    expect(report.totals).toMatchObject({ reads: 1_003, failedReads: 2, staleBeyondBound: 1, clientCoresBusy: 0.25 });
    // Percentiles over all regions come from the merged histograms, not an average of the regions'.
    expect(report.totals.latencyMs.max).toBe(20);
    expect(report.writes).toMatchObject({ ok: 3, failed: 1, errors: { '404 not_found': 1 }, latencyMs: { p50: expect.closeTo(4, 2) } }); // HDR: 3 significant digits
  });

  it('prints the same figures as a table, and says how many reads were stale', () => {
    const text = formatReport(buildReport(sampleRun(), { kind: 'open', rate: 500, connections: 64 }, 50));
    expect(text).toContain('open model, 500 req/s');
    expect(text).toMatch(/us-east\s+501\s+0\.50 ms\s+0\.95 ms\s+0\.99 ms\s+1\.00 ms\s+90\.0 %\s+2/);
    expect(text).toMatch(/us-east\s+100\.0 ms\s+150\.0 ms\s+10,000\s+0\s+1\s+400\.0 ms\s+300\.0 ms\s+4 nines/);
    expect(text).toContain('Read errors: 503 unavailable × 1, ECONNREFUSED × 1');
    expect(text).toContain('Writes: 3 committed, 1 failed (404 not_found × 1)');
    expect(text).toContain('eu-west: not judged: 0 answers without X-Cache-Version, 1 marked STALE by the server');
    expect(text).toContain('Result: 1 read was stale beyond the bound.');
  });
});
