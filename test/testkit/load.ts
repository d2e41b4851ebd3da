import type pg from 'pg';
import type { LoadReport as CliLoadReport } from '../../packages/freshcache-server/src/tools/load/load-report.js';
import type { ServeProcess } from '../../packages/freshcache-server/src/tools/serve-process.js';

export interface Read {
  node: string;
  region: string;
  id: number;
  state: string | null;
  version: number;
  startedAt: number;
}

/** A fresh answer older than a change made more than its bound before the read began. */
export interface StaleRead extends Read {
  /** How long before the read began the oldest change it missed was made (committed, or published: see startLoad). */
  staleForMs: number;
  /** The bound it broke: `staleAfterMs` of its node when it was read. */
  boundMs: number;
}

export interface LoadReport {
  reads: number;
  failedReads: number;
  writes: number;
  failedWrites: number;
  /** Fresh answers (HIT or MISS) older than a change made more than `staleAfterMs` before the read began. */
  staleReads: StaleRead[];
  /** The fresh but outdated answer that came closest to its bound, or went furthest beyond it: how much room is left. */
  worst: StaleRead | undefined;
}

/** Reads one content record through a node; undefined when the node did not answer 200. */
export async function readThrough(node: ServeProcess, region: string, id: number): Promise<Read | undefined> {
  const startedAt = Date.now();
  try {
    const response = await fetch(`${node.url}/edge/${region}/content/${id}`, { signal: AbortSignal.timeout(5_000) });
    await response.arrayBuffer();
    if (response.status !== 200) return undefined;
    return { node: node.name, region, id, state: response.headers.get('x-cache'), version: Number(response.headers.get('x-cache-version')), startedAt };
  } catch {
    return undefined;
  }
}

/**
 * A bounded read/write load while a fault happens: writers UPDATE content in SQL, readers read it
 * through every node. Each commit is remembered with when it returned, so every read can be
 * judged: a fresh answer older than a commit that returned more than `staleAfterMs` before the
 * read began is a stale read (the bound: the region's delay plus a margin).
 *
 * With `publishedAt`, a change counts from when the log published it instead (a change not yet
 * published is not judged): for a fault that stops capture, whose lag no constant bounds.
 */
export function startLoad(options: {
  sql: pg.Pool;
  ids: number[];
  nodes: () => { node: ServeProcess; region: string; staleAfterMs: number }[];
  /** When the log published the change that gave `id` this `version`; undefined while it has not. */
  publishedAt?: (id: number, version: number) => number | undefined;
  writesPerSecond?: number;
  readers?: number;
}) {
  const commits = new Map<number, { version: number; at: number }[]>();
  const report: LoadReport = { reads: 0, failedReads: 0, writes: 0, failedWrites: 0, staleReads: [], worst: undefined };
  let running = true;
  let counter = 0;
  let readWaiters: (() => void)[] = [];
  const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)]!;

  const writer = (async () => {
    const pauseMs = 1000 / (options.writesPerSecond ?? 20);
    while (running) {
      const id = pick(options.ids);
      try {
        const { rows } = await options.sql.query<{ version: string }>('UPDATE content SET title = $2 WHERE id = $1 RETURNING version', [id, `load ${++counter}`]);
        const at = Date.now();
        commits.set(id, [...(commits.get(id) ?? []), { version: Number(rows[0]!.version), at }]);
        report.writes++;
      } catch {
        report.failedWrites++; // PostgreSQL restarting
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs)); // pacing the load, not synchronising
    }
  })();

  const readers = Array.from({ length: options.readers ?? 4 }, async () => {
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, 5)); // pacing: leave the 2 cores to the system under test
      const target = pick(options.nodes());
      const read = await readThrough(target.node, target.region, pick(options.ids));
      if (!read) {
        report.failedReads++;
        continue;
      }
      report.reads++;
      for (const wake of readWaiters.splice(0)) wake();
      if (read.state === 'STALE') continue;
      // Commits are remembered in the order they returned (and published in that order): the
      // first one newer than the answer is the oldest it missed.
      const madeAt = (c: { version: number; at: number }) => (options.publishedAt ? options.publishedAt(read.id, c.version) : c.at);
      const missed = (commits.get(read.id) ?? []).find((c) => c.version > read.version && (madeAt(c) ?? Infinity) < read.startedAt);
      if (!missed) continue;
      const stale: StaleRead = { ...read, staleForMs: read.startedAt - madeAt(missed)!, boundMs: target.staleAfterMs };
      if (!report.worst || stale.staleForMs - stale.boundMs > report.worst.staleForMs - report.worst.boundMs) report.worst = stale;
      if (stale.staleForMs > stale.boundMs) report.staleReads.push(stale);
    }
  });

  return {
    report,
    /** Resolves once the readers have done `count` successful reads: the load's progress is the clock of a fault test. */
    async untilReads(count: number): Promise<void> {
      while (report.reads < count) await new Promise<void>((wake) => readWaiters.push(wake));
    },
    async stop(): Promise<LoadReport> {
      readWaiters = [];
      running = false;
      await Promise.all([writer, ...readers]);
      return report;
    },
  };
}

/**
 * For `freshcache load` run as a child (runCli's untilStderr): matches once it has printed
 * `count` progress lines, one a second when its stderr is not a terminal. Its own clock is the
 * clock of a fault test that drives it. Each group takes the text up to the next line's marker
 * and nothing past it, so the text splits one way only: a pattern of lazy groups backtracked
 * exponentially while it did not match yet (minutes of CPU at fifty lines).
 */
export function loadProgressLines(count: number): RegExp {
  return new RegExp(`^(?:(?:(?! s: reads )[\\s\\S])* s: reads [^\\n]*\\n){${count}}`);
}

/** How many progress lines `freshcache load` has printed on this stderr. */
export function loadProgressCount(stderr: string): number {
  return (stderr.match(/ s: reads /g) ?? []).length;
}

/** The regions' freshness figures of a `freshcache load --json` report, to show with a failure. */
export function freshnessSummary(report: CliLoadReport): string {
  return JSON.stringify(report.regions.map((r) => ({ region: r.region, ...r.freshness })));
}
