import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CUT_OFF_MS } from '../../packages/freshcache/src/adapters/redis/redis-stream-log.js';
import { killServe } from '../../packages/freshcache-server/src/tools/serve-process.js';
import type { InvalidationStatus } from '../../packages/freshcache-server/src/topology/invalidation-tracker.js';
import { Deployment, openEvents } from '../testkit/deployment.js';
import type { LoadReport as CliLoadReport } from '../../packages/freshcache-server/src/tools/load/load-report.js';
import { runCli } from '../testkit/cli-process.js';
import type { LoadReport, StaleRead } from '../testkit/load.js';
import { freshnessSummary, loadProgressCount, loadProgressLines, readThrough, startLoad } from '../testkit/load.js';

type Load = ReturnType<typeof startLoad>;

/**
 * Faults under a read/write load, on a real multi-process deployment (two relay candidates, two
 * nodes per region, WAL capture): kill -9 a node, kill -9 the relay mid-stream, restart Redis,
 * restart PostgreSQL. During each, no node may answer as fresh (HIT or MISS) a value that a commit
 * replaced longer ago than the bound the code promises for that fault; after each, once the
 * pipeline has recovered, no node of any region may serve a value older than the last commit.
 */
const REGIONS = [
  { name: 'us-east', delayMs: 100, jitter: 0.1 },
  { name: 'eu-west', delayMs: 300, jitter: 0.1 },
  { name: 'ap-south', delayMs: 600, jitter: 0.1 },
];
/**
 * Allowed beyond a region's delay (with its jitter) before a fresh answer counts as stale: capture,
 * publish and apply take a few milliseconds, and a commit is dated when its UPDATE returns to the
 * test, in a process that shares two cores with the deployment.
 */
const MARGIN_MS = 500;

let deployment: Deployment;
let ids: number[] = [];
let sentinel: number;

beforeAll(async () => {
  deployment = await Deployment.start({ regions: REGIONS, nodesPerRegion: 2, relays: 2, capture: 'wal' });
  const { rows } = await deployment.sql.query<{ id: string }>(
    `INSERT INTO content (slug, title) SELECT 'item-' || n, 'start' FROM generate_series(1, 21) n RETURNING id`,
  );
  const created = rows.map((r) => Number(r.id));
  sentinel = created[0]!;
  ids = created.slice(1);
}, 120_000);

afterEach((context) => {
  // A process that died tells why on its stderr: show it with the failure.
  if (context.task.result?.state === 'fail') {
    const processes = [...deployment.relays, ...deployment.nodes].map((p) => `${p.name} ${p.url} exit=${p.child.exitCode ?? p.child.signalCode ?? 'running'}`);
    console.error([...processes, deployment.stderr.join('').slice(-8_000)].join('\n'));
  }
});

afterAll(async () => {
  await deployment?.stop();
});

/** The live nodes, each with its bound: its region's longest delay, `extraMs` the fault may add, and the margin. */
function targets(extraMs: number) {
  return deployment.nodes
    .filter((node) => node.child.exitCode === null && node.child.signalCode === null)
    .map((node) => {
      const region = REGIONS.find((r) => node.name.startsWith(`${r.name}-`))!;
      return { node, region: region.name, staleAfterMs: region.delayMs * (1 + region.jitter) + extraMs + MARGIN_MS };
    });
}

/**
 * Runs `fault` under load and asserts the load saw no fresh answer staler than its bound (the
 * region's delay, plus `extraMs` the fault is allowed, plus the margin); then proves every node
 * fresh, which also proves that no change was lost.
 *
 * A change counts from its commit, or with `fromPublication` from when the log published it: a
 * fault that stops capture (the relay killed, PostgreSQL restarting) adds capture lag, which the
 * design's staleness bound counts apart and the code bounds by no constant (an election, a
 * restart, the feed's reconnect backoff). Staleness after publication is what such a fault must
 * leave untouched.
 */
async function underLoad(
  name: string,
  fault: (load: Load) => Promise<void>,
  options: { extraMs?: number; fromPublication?: boolean } = {},
): Promise<LoadReport> {
  const extraMs = options.extraMs ?? 0;
  // A node that no fault stops tells when each change was published.
  const published = options.fromPublication ? await openEvents(`${deployment.nodesOf('eu-west')[0]!.url}/api/events`) : undefined;
  const load = startLoad({ sql: deployment.sql, ids, nodes: () => targets(extraMs), publishedAt: published && publications(published) });
  await load.untilReads(200);
  await fault(load);
  await load.untilReads(load.report.reads + 200);
  const report = await load.stop();
  await published?.close();
  const flushes = await flushCount();
  const worst = report.worst ? `${report.worst.staleForMs} ms (bound ${report.worst.boundMs} ms)` : 'none';
  console.log(
    `${name}: ${report.reads} reads (${report.failedReads} failed), ${report.writes} writes (${report.failedWrites} failed), ` +
      `${report.staleReads.length} stale reads beyond the bound, worst outdated fresh answer ${worst}, ${flushes} flushes so far`,
  );
  expect.soft(report.staleReads.slice(0, 10).map(describeStale), `${name}: ${report.staleReads.length} stale reads beyond the bound`).toEqual([]);
  await expectFreshEverywhere();
  return report;
}

function describeStale(read: StaleRead): string {
  return `${read.node} content ${read.id}: ${read.state} v${read.version}, a newer change made ${read.staleForMs} ms before the read (bound ${read.boundMs} ms)`;
}

/** When the log published each change, from an event stream: (id, version) → publishedAt. */
function publications(stream: Awaited<ReturnType<typeof openEvents>>): (id: number, version: number) => number | undefined {
  const at = new Map<string, number>();
  let seen = 0;
  return (id, version) => {
    for (; seen < stream.events.length; seen++) {
      const { name, data } = stream.events[seen]!;
      if (name !== 'invalidation.published') continue;
      const status = data as InvalidationStatus;
      for (const key of status.keys) at.set(`${key}@${status.version}`, status.publishedAt);
    }
    return at.get(`content:${id}@${version}`);
  };
}

/**
 * A write to a sentinel record, applied by every node (the log is applied in order, so every
 * earlier change is applied too); then every record read through every node must be current.
 */
async function expectFreshEverywhere(): Promise<void> {
  const streams = await Promise.all(deployment.nodes.map((node) => openEvents(`${node.url}/api/events`)));
  try {
    const { rows } = await deployment.sql.query<{ version: string }>(`UPDATE content SET title = 'sentinel' WHERE id = $1 RETURNING version`, [sentinel]);
    const version = Number(rows[0]!.version);
    await Promise.all(
      streams.map((stream) =>
        stream.next<InvalidationStatus>('invalidation.applied', (s) => s.keys.includes(`content:${sentinel}`) && (s.version ?? 0) >= version),
      ),
    );
  } finally {
    await Promise.all(streams.map((stream) => stream.close()));
  }
  const { rows } = await deployment.sql.query<{ id: string; version: string }>('SELECT id, version FROM content WHERE id = ANY($1)', [ids]);
  const current = new Map(rows.map((r) => [Number(r.id), Number(r.version)]));
  const wrong: string[] = [];
  for (const { node, region } of targets(0)) {
    for (const id of ids) {
      const read = await readThrough(node, region, id);
      if (!read || read.version !== current.get(id)) wrong.push(`${node.name} ${id}: ${read ? `${read.state} v${read.version}` : 'no answer'}, origin v${current.get(id)}`);
    }
  }
  expect(wrong).toEqual([]);
}

async function flushCount(): Promise<number> {
  let total = 0;
  for (const node of deployment.nodes) {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    for (const match of text.matchAll(/^freshcache_flushes_total\{[^}]*\} (\d+)/gm)) total += Number(match[1]);
  }
  return total;
}

// A fault and the recovery after it take seconds: backoffs, the breaker's open time, a takeover.
describe('faults under load (real processes, Redis, PostgreSQL)', { timeout: 90_000 }, () => {
  it('kill -9 a node: its region goes on through the other node, and the node restarts fresh', async () => {
    await underLoad('kill -9 a us-east node', async (load) => {
      const victim = deployment.nodesOf('us-east')[0]!;
      await killServe(victim);
      await load.untilReads(load.report.reads + 200); // the region answers through its other node meanwhile
      await deployment.startProcess(victim.name, 'us-east');
    });
  });

  it('kill -9 the relay mid-stream: the standby takes the lock and resumes from the slot, losing nothing', async () => {
    await underLoad(
      'kill -9 the leading relay',
      async (load) => {
        await killServe(deployment.relays[0]!);
        await load.untilReads(load.report.reads + 200); // writes go on while the standby takes over
      },
      { fromPublication: true },
    );
    const ready = (await (await fetch(`${deployment.relays[1]!.url}/ready`)).json()) as { checks: { relay: string } };
    expect(ready.checks.relay).toBe('ok');
  });

  it('Redis down: nodes serve from L1 and the origin meanwhile, flush once cut off, and recover by themselves when it returns', async () => {
    // Without Redis no invalidation travels: a node may serve what it holds until its log reader
    // has been cut off for DEFAULT_CUT_OFF_MS (log.cutOffMs), when it flushes. Redis stays down past
    // that, so the bound is tested, not just the first seconds of an outage. The load is the
    // CLI's, on every node, writing in SQL, its bound the region's delay + the cut-off + the margin.
    const streams = await Promise.all(deployment.nodes.map((node) => openEvents(`${node.url}/api/events`)));
    const margin = String(DEFAULT_CUT_OFF_MS + MARGIN_MS);
    const load = runCli('load', ['--target', deployment.nodes.map((n) => n.url).join(','), '--sql', deployment.postgres.url, '--duration', '120s', '--rate', '200', '--read-ratio', '0.9', '--margin', margin, '--json']);
    try {
      await load.untilStderr(loadProgressLines(2));
      await deployment.redis.kill();
      // Every node cut off and flushed; a node that goes on too long serves what it holds, and the
      // load's report (asserted below) says how stale: 12 s of the load's clock bound the wait.
      const cutOff = Promise.all(streams.map((stream) => stream.next<{ reason: string }>('region.flushed', (f) => f.reason === 'log disconnected')));
      const longEnough = load.untilStderr(loadProgressLines(loadProgressCount(load.stderr()) + 12));
      for (const loser of [cutOff, longEnough]) loser.catch(() => {}); // the one that loses the race ends with the streams or the load
      await Promise.race([cutOff, longEnough]);
      // Reads go on without Redis, from L1 (refilled) and the origin, for 3 s of the load's clock.
      await load.untilStderr(loadProgressLines(loadProgressCount(load.stderr()) + 3));
      await deployment.redis.restart();
      await load.untilStderr(loadProgressLines(loadProgressCount(load.stderr()) + 3));
    } finally {
      await Promise.all(streams.map((stream) => stream.close()));
    }
    load.child.kill('SIGINT');
    const { code } = await load.exit();
    const report = JSON.parse(load.stdout()) as CliLoadReport;
    console.log(`Redis down, then back (freshcache load): ${report.totals.reads} reads (${report.totals.failedReads} failed), ${report.writes.ok} writes (${report.writes.failed} failed), ${freshnessSummary(report)}`);
    expect(report.totals.failedReads, load.stderr()).toBe(0);
    expect(report.regions.map((r) => r.region).sort()).toEqual(REGIONS.map((r) => r.name).sort());
    for (const region of report.regions) expect(region.freshness.judged, region.region).toBeGreaterThan(0);
    expect(report.writes.ok).toBeGreaterThan(0);
    expect(report.totals.staleBeyondBound, freshnessSummary(report)).toBe(0);
    expect(code).toBe(0);
    await expectFreshEverywhere();
  });

  it('restart PostgreSQL: the relay reconnects and resumes from its slot', async () => {
    await underLoad(
      'restart PostgreSQL',
      async () => {
        await deployment.postgres.restart();
      },
      { fromPublication: true },
    );
  });
});
