import { consistency, nines } from './freshness-checker.js';
import type { RegionFreshness } from './freshness-checker.js';
import type { LoadModel, LoadRun } from './load-driver.js';
import { Tally } from './load-stats.js';

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export interface FreshnessFigures {
  delayMs: number;
  boundMs: number;
  /** Reads judged: 2xx, with a version, not marked STALE by the server. */
  judged: number;
  /** Reads that missed a committed version within the bound. */
  behind: number;
  staleBeyondBound: number;
  /** The longest a read's missed version had been committed when it was sent. */
  worstAgeMs: number;
  /** worstAgeMs minus the region's delay: how far beyond its delay the worst read was (≤ 0: within it). */
  worstBeyondDelayMs: number;
  /** The share of judged reads not stale beyond the bound. */
  consistency: number;
  nines: number | null;
  /** True when no read was stale: the reads only show at least `nines`. */
  ninesAtLeast: boolean;
}

export interface RegionReport {
  region: string;
  reads: number;
  ok: number;
  failed: number;
  readsPerSecond: number;
  latencyMs: LatencySummary;
  hitRatio: number | null;
  cache: { hit: number; miss: number; stale: number };
  /** 2xx answers without X-Cache-Version (not judged). */
  unversioned: number;
  errors: Record<string, number>;
  freshness: FreshnessFigures;
}

export interface LoadReport {
  durationMs: number;
  model: LoadModel;
  marginMs: number;
  totals: { reads: number; failedReads: number; readsPerSecond: number; requestsPerSecond: number; staleBeyondBound: number; dropped: number; abandoned: number; clientCoresBusy: number; latencyMs: LatencySummary; hitRatio: number | null };
  regions: RegionReport[];
  /** Writes are counted apart: a write in flight on a killed node may fail without a read failing. */
  writes: { ok: number; failed: number; writesPerSecond: number; latencyMs: LatencySummary; errors: Record<string, number> };
}

const round = (value: number, digits = 3) => Number(value.toFixed(digits));

function latency(tally: Tally): LatencySummary {
  const h = tally.latencyUs;
  if (h.totalCount === 0) return { p50: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  const ms = (us: number) => round(us / 1000);
  return { p50: ms(h.getValueAtPercentile(50)), p95: ms(h.getValueAtPercentile(95)), p99: ms(h.getValueAtPercentile(99)), p999: ms(h.getValueAtPercentile(99.9)), max: ms(h.maxValue) };
}

function freshnessFigures(f: RegionFreshness): FreshnessFigures {
  const n = nines(f);
  return {
    delayMs: round(f.delayMs),
    boundMs: round(f.boundMs),
    judged: f.reads,
    behind: f.behind,
    staleBeyondBound: f.stale,
    worstAgeMs: round(f.worstAgeMs),
    worstBeyondDelayMs: round(f.worstAgeMs > 0 ? f.worstAgeMs - f.delayMs : 0),
    consistency: consistency(f),
    nines: n?.nines ?? null,
    ninesAtLeast: n?.atLeast ?? false,
  };
}

/** The figures of a run, per region and in total (`--json` prints exactly these). */
export function buildReport(run: LoadRun, model: LoadModel, marginMs: number): LoadReport {
  const seconds = Math.max(run.elapsedMs, 1) / 1000;
  const freshness = new Map(run.freshness.summary().map((f) => [f.region, f]));
  const regions = [...run.stats.regions].map(([region, { total }]): RegionReport => {
    const f = freshness.get(region) ?? { region, delayMs: 0, boundMs: marginMs, reads: 0, behind: 0, stale: 0, worstAgeMs: 0 };
    return {
      region,
      reads: total.ok + total.failed,
      ok: total.ok,
      failed: total.failed,
      readsPerSecond: round((total.ok + total.failed) / seconds, 1),
      latencyMs: latency(total),
      hitRatio: total.hitRatio ?? null,
      cache: { hit: total.hits, miss: total.misses, stale: total.staleAnswers },
      unversioned: total.unversioned,
      errors: Object.fromEntries(total.errors),
      freshness: freshnessFigures(f),
    };
  });
  const all = new Tally();
  for (const { total } of run.stats.regions.values()) all.add(total);
  const writes = run.stats.writes.total;
  const reads = all.ok + all.failed;
  return {
    durationMs: round(run.elapsedMs, 0),
    model,
    marginMs,
    totals: {
      reads,
      failedReads: all.failed,
      readsPerSecond: round(reads / seconds, 1),
      requestsPerSecond: round((reads + writes.ok + writes.failed) / seconds, 1),
      staleBeyondBound: regions.reduce((sum, r) => sum + r.freshness.staleBeyondBound, 0),
      dropped: run.stats.dropped,
      abandoned: run.abandoned,
      clientCoresBusy: round(run.cpuMs / Math.max(run.elapsedMs, 1), 2),
      latencyMs: latency(all),
      hitRatio: all.hitRatio ?? null,
    },
    regions,
    writes: { ok: writes.ok, failed: writes.failed, writesPerSecond: round((writes.ok + writes.failed) / seconds, 1), latencyMs: latency(writes), errors: Object.fromEntries(writes.errors) },
  };
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => `${n.toFixed(n < 10 ? 2 : 1)} ms`;
const percent = (ratio: number | null) => (ratio === null ? '-' : `${(ratio * 100).toFixed(1)} %`);

/** "4 nines", "≥ 5 nines", or "-" when no read was judged. */
export function formatNines(f: Pick<FreshnessFigures, 'nines' | 'ninesAtLeast'>): string {
  if (f.nines === null) return '-';
  return `${f.ninesAtLeast ? '≥ ' : ''}${f.nines} nine${f.nines === 1 ? '' : 's'}`;
}

/** Rows of cells as a text table: the first column left-aligned, the others right-aligned. */
export function textTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd()).join('\n');
}

/** The report as a person reads it: throughput and latency, freshness, then errors and writes. */
export function formatReport(report: LoadReport): string {
  const { totals } = report;
  const model = report.model.kind === 'open' ? `open model, ${int(report.model.rate)} req/s` : `closed model, ${int(report.model.connections)} connections`;
  const lines = [
    `freshcache load: ${(report.durationMs / 1000).toFixed(1)} s, ${model}`,
    `  ${int(totals.reads)} reads (${int(totals.readsPerSecond)}/s), ${int(report.writes.ok + report.writes.failed)} writes (${int(report.writes.writesPerSecond)}/s), ${int(totals.requestsPerSecond)} req/s in all; this client used ${totals.clientCoresBusy.toFixed(2)} cores`,
    '',
    textTable([
      ['region', 'reads/s', 'p50', 'p95', 'p99', 'p99.9', 'hit ratio', 'failed'],
      ...report.regions.map((r) => [r.region, int(r.readsPerSecond), ms(r.latencyMs.p50), ms(r.latencyMs.p95), ms(r.latencyMs.p99), ms(r.latencyMs.p999), percent(r.hitRatio), int(r.failed)]),
      ['all', int(totals.readsPerSecond), ms(totals.latencyMs.p50), ms(totals.latencyMs.p95), ms(totals.latencyMs.p99), ms(totals.latencyMs.p999), percent(totals.hitRatio), int(totals.failedReads)],
    ]),
    '',
    `Freshness (a read is stale when a newer version had committed more than delay + ${report.marginMs} ms before it was sent):`,
    textTable([
      ['region', 'delay', 'bound', 'judged', 'behind', 'stale beyond bound', 'worst age', 'beyond delay', 'consistency'],
      ...report.regions.map((r) => {
        const f = r.freshness;
        return [r.region, ms(f.delayMs), ms(f.boundMs), int(f.judged), int(f.behind), int(f.staleBeyondBound), ms(f.worstAgeMs), ms(f.worstBeyondDelayMs), formatNines(f)];
      }),
    ]),
  ];
  const unjudged = report.regions.filter((r) => r.unversioned > 0 || r.cache.stale > 0);
  for (const r of unjudged) lines.push(`  ${r.region}: not judged: ${int(r.unversioned)} answers without X-Cache-Version, ${int(r.cache.stale)} marked STALE by the server`);
  const errors = new Map<string, number>();
  for (const r of report.regions) for (const [code, count] of Object.entries(r.errors)) errors.set(code, (errors.get(code) ?? 0) + count);
  lines.push('', errors.size === 0 ? 'Read errors: none' : `Read errors: ${[...errors].map(([code, count]) => `${code} × ${int(count)}`).join(', ')}`);
  const w = report.writes;
  const writeErrors = Object.entries(w.errors).map(([code, count]) => `${code} × ${int(count)}`).join(', ');
  lines.push(`Writes: ${int(w.ok)} committed, ${int(w.failed)} failed${writeErrors ? ` (${writeErrors})` : ''}; p50 ${ms(w.latencyMs.p50)}, p99 ${ms(w.latencyMs.p99)}`);
  if (totals.dropped > 0) lines.push(`Dropped: ${int(totals.dropped)} requests not started (too many in flight: the target or this client was the limit)`);
  if (totals.abandoned > 0) lines.push(`Abandoned: ${int(totals.abandoned)} requests still unanswered at the end (not counted)`);
  lines.push(totals.staleBeyondBound === 0 ? 'Result: no read was stale beyond its bound.' : `Result: ${int(totals.staleBeyondBound)} ${totals.staleBeyondBound === 1 ? 'read was' : 'reads were'} stale beyond the bound.`);
  return lines.join('\n');
}
