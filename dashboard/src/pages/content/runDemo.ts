import type { ApiClient } from '../../api/client';
import type { CacheHeader, ContentRecord, EdgeRead, Mode } from '../../api/types';
import { formatMs } from '../../lib/format';
import { stampTitle } from '../../lib/stamp-title';

/** Which demo: the region mode it sets ('ttl': stale reads until the TTL; 'cdc': fresh after the delays). */
export type DemoKind = Mode;

export interface DemoStep {
  /** Since the demo started. */
  atMs: number;
  text: string;
}

export interface DemoRegion {
  name: string;
  delayMs: number;
  ttlMs: number;
  /** What the region served last. */
  lastRead?: { cache: CacheHeader; version: number | null; ageSeconds: number; title: string };
  /** Since the update: when a read first got the new version; null while it has not. */
  firstNewMs: number | null;
  readError?: string;
}

export interface DemoProgress {
  steps: DemoStep[];
  regions: DemoRegion[];
}

export interface DemoResult extends DemoProgress {
  kind: DemoKind;
  oldVersion: number;
  newVersion: number;
  /** The article as the origin has it after the demo's update. */
  record: ContentRecord;
  summary: string;
}

export interface DemoOptions {
  /** How long to keep re-reading after the update. */
  durationMs?: number;
  /** Time between rounds of re-reads. */
  intervalMs?: number;
  signal?: AbortSignal;
}

const DEFAULTS: Record<DemoKind, Required<Omit<DemoOptions, 'signal'>>> = {
  // A TTL is a minute: a few reads show that nothing changes.
  ttl: { durationMs: 1500, intervalMs: 300 },
  // Fine-grained, so the measured times tell the 100 / 300 / 600 ms delays apart.
  cdc: { durationMs: 1500, intervalMs: 50 },
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * One of the two classic demos on one article: set every region to `kind` mode, read the article
 * through every region (so each caches it), update it at the origin, then re-read every region
 * for a while and record when each first serves the new version. `onProgress` gets the whole
 * picture after every step, so a page only has to show the latest one.
 */
export async function runDemo(api: ApiClient, kind: DemoKind, articleId: number, onProgress: (progress: DemoProgress) => void, options: DemoOptions = {}): Promise<DemoResult> {
  const { durationMs, intervalMs } = { ...DEFAULTS[kind], ...options };
  const started = performance.now();
  const steps: DemoStep[] = [];
  let regions: DemoRegion[] = [];
  const report = () => onProgress({ steps: [...steps], regions: regions.map((r) => ({ ...r })) });
  const log = (text: string) => {
    steps.push({ atMs: Math.round(performance.now() - started), text });
    report();
  };
  const checkAborted = () => {
    if (options.signal?.aborted) throw new Error('The demo was stopped.');
  };

  const settings = (await api.regions()).sort((a, b) => a.delayMs - b.delayMs);
  regions = settings.map((r) => ({ name: r.name, delayMs: r.delayMs, ttlMs: r.ttlMs, firstNewMs: null }));
  const toSwitch = settings.filter((r) => r.mode !== kind);
  await Promise.all(toSwitch.map((r) => api.updateRegion(r.name, { mode: kind })));
  log(toSwitch.length === 0 ? `Every region already was in ${kind} mode.` : `Set ${names(toSwitch)} to ${kind} mode${kind === 'cdc' ? ' (which flushes them)' : ''}.`);
  checkAborted();

  const before = await api.getContent(articleId);
  const warm = await readEveryRegion(api, regions, articleId);
  regions = withReads(regions, warm);
  log(`Warmed the caches (origin at version ${before.version}): ${describeReads(regions, warm)}.`);
  checkAborted();

  const record = await api.updateContent(articleId, { title: stampTitle(before.title, 'demo', new Date()) });
  const updatedAt = performance.now();
  log(`Updated the article at the origin: version ${before.version} → ${record.version}.`);

  let previous = describeReads(regions, warm);
  for (let round = 1; round * intervalMs <= durationMs; round++) {
    await sleep(updatedAt + round * intervalMs - performance.now());
    checkAborted();
    const sentAt = performance.now() - updatedAt;
    const reads = await readEveryRegion(api, regions, articleId);
    regions = withReads(regions, reads, { version: record.version, atMs: Math.round(sentAt) });
    const described = describeReads(regions, reads);
    const allNew = regions.every((r) => r.firstNewMs !== null);
    const last = (round + 1) * intervalMs > durationMs || (kind === 'cdc' && allNew);
    // TTL: every round (a few), to show nothing changes. CDC: a line per round that changed
    // something (and the last), not 30 identical lines.
    if (kind === 'ttl' || described !== previous || last) log(`+${Math.round(sentAt)} ms after the update: ${described}.`);
    else report();
    previous = described;
    if (kind === 'cdc' && allNew) break;
  }

  const summary = kind === 'cdc' ? summarizeCdc(regions, record.version, durationMs) : summarizeTtl(regions, before.version, record.version, durationMs);
  return { kind, steps, regions, oldVersion: before.version, newVersion: record.version, record, summary };
}

function readEveryRegion(api: ApiClient, regions: DemoRegion[], id: number): Promise<PromiseSettledResult<EdgeRead>[]> {
  return Promise.allSettled(regions.map((r) => api.readThrough(r.name, id)));
}

/** The regions after a round of reads; with `fresh`, a read of that version (or newer) is the region's first new one. */
function withReads(regions: DemoRegion[], reads: PromiseSettledResult<EdgeRead>[], fresh?: { version: number; atMs: number }): DemoRegion[] {
  return regions.map((region, i) => {
    const read = reads[i]!;
    if (read.status === 'rejected') return { ...region, readError: (read.reason as Error).message };
    const { cache, version, ageSeconds, record } = read.value;
    const isNew = fresh !== undefined && version !== null && version >= fresh.version;
    return {
      ...region,
      lastRead: { cache, version, ageSeconds, title: record.title },
      readError: undefined,
      firstNewMs: region.firstNewMs ?? (isNew ? fresh.atMs : null),
    };
  });
}

function names(regions: { name: string }[]): string {
  return regions.map((r) => r.name).join(', ');
}

function describeReads(regions: DemoRegion[], reads: PromiseSettledResult<EdgeRead>[]): string {
  return regions
    .map((region, i) => {
      const read = reads[i]!;
      if (read.status === 'rejected') return `${region.name} error (${(read.reason as Error).message})`;
      return `${region.name} ${read.value.cache} v${read.value.version ?? '?'}`;
    })
    .join(' · ');
}

function summarizeCdc(regions: DemoRegion[], newVersion: number, durationMs: number): string {
  const fresh = regions.filter((r) => r.firstNewMs !== null).sort((a, b) => a.firstNewMs! - b.firstNewMs!);
  const late = regions.filter((r) => r.firstNewMs === null);
  const inDelayOrder = fresh.every((r, i) => i === 0 || fresh[i - 1]!.delayMs <= r.delayMs);
  const times = fresh.map((r) => `${r.name} +${r.firstNewMs} ms (delay ${formatMs(r.delayMs)})`).join(', ');
  if (fresh.length === 0) return `No region served version ${newVersion} within ${formatMs(durationMs)} of the update.`;
  const head = late.length === 0 ? `Every region served version ${newVersion}` : `${names(fresh)} served version ${newVersion}`;
  const tail = late.length === 0 ? '' : `; ${names(late)} still served an older version after ${formatMs(durationMs)}`;
  return `${head} ${inDelayOrder ? 'in delay order' : 'in this order'}: ${times}${tail}.`;
}

function summarizeTtl(regions: DemoRegion[], oldVersion: number, newVersion: number, durationMs: number): string {
  const stale = regions.filter((r) => r.firstNewMs === null);
  const refreshed = regions.filter((r) => r.firstNewMs !== null);
  const until = stale.map((r) => `${r.name} in ≈ ${refreshInSeconds(r)} s`).join(', ');
  const parts: string[] = [];
  if (stale.length > 0) {
    parts.push(
      `${stale.length === regions.length ? 'Every region' : names(stale)} still served an old version after ${formatMs(durationMs)} although the origin is at version ${newVersion} (was ${oldVersion}): ` +
        `in ttl mode a region ignores invalidations and refreshes only when its entry's TTL runs out (${until}).`,
    );
  }
  if (refreshed.length > 0) {
    parts.push(`${names(refreshed)} served the new version anyway (${refreshed.map((r) => `+${r.firstNewMs} ms`).join(', ')}): its cached entry had expired or was gone.`);
  }
  parts.push('The regions stay in ttl mode until you switch them back (Regions page) or run the CDC demo.');
  return parts.join(' ');
}

/** When a region in ttl mode will fetch the article again: its TTL minus the age of what it served. */
export function refreshInSeconds(region: Pick<DemoRegion, 'ttlMs' | 'lastRead'>): number {
  return Math.max(0, Math.round(region.ttlMs / 1000 - (region.lastRead?.ageSeconds ?? 0)));
}
