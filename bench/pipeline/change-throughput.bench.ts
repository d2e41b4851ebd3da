import { writeFile } from 'node:fs/promises';
import type { Profiler } from 'node:inspector';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { createPgClient } from '../../packages/freshcache/src/adapters/postgres/pg-client.js';
import { dropWalSlot } from '../../packages/freshcache/src/adapters/postgres/wal-feed.js';
import type { RegionInput } from '../../packages/freshcache-server/src/config.js';
import type { PostgresServer } from '../../packages/freshcache-server/src/tools/local-postgres.js';
import { startPostgres } from '../../packages/freshcache-server/src/tools/local-postgres.js';
import type { RedisServer } from '../../packages/freshcache-server/src/tools/local-redis.js';
import { startRedis } from '../../packages/freshcache-server/src/tools/local-redis.js';
import type { InvalidationStatus } from '../../packages/freshcache-server/src/topology/invalidation-tracker.js';
import { DemoApp } from '../../packages/freshcache-server/src/demo/demo-app.js';
import { createTopology } from '../../packages/freshcache-server/src/topology/topology.js';
import type { ProfileSummary } from '../lib/cpu-profile.js';
import { summariseProfile } from '../lib/cpu-profile.js';
import { formatCount, formatRatio, verdict } from '../lib/format.js';
import { median } from '../lib/median.js';
import { percentile } from '../lib/percentile.js';
import type { Progress } from '../lib/progress.js';
import type { Row, ScenarioOutput } from '../lib/row.js';

/**
 * A capture path, with the regions' L2 on the Redis (as deployed), or (`wal-memory-l2`) in each
 * region's process memory: the same pipeline without the consumer groups' per-key Redis deletes.
 */
type Kind = 'wal' | 'outbox' | 'wal-memory-l2';

const REGIONS = [
  { name: 'us-east', delayMs: 100, jitter: 0 },
  { name: 'eu-west', delayMs: 300, jitter: 0 },
  { name: 'ap-south', delayMs: 600, jitter: 0 },
] as const satisfies readonly RegionInput[];
const KINDS: readonly Kind[] = ['wal', 'outbox', 'wal-memory-l2'];
/** Profiled in one more round after the measured ones. */
const PROFILED: readonly Kind[] = ['wal', 'outbox'];
/** Content rows; each transaction updates TX_ROWS of them, in turn. */
const ROWS = 20_000;
/** Rows per transaction at full speed: many, so that PostgreSQL's commit rate is not what is measured. */
const TX_ROWS = 1000;
const SEED_TX_ROWS = 5_000;
/** Writer connections committing back to back at full speed, each on rows of its own (no lock waits). */
const WRITERS = 2;
/** How long the writers commit at full speed in each round. */
const DRIVE_MS = 5_000;
/** Rounds taken in turn (wal, outbox, wal, …), so drifting machine load falls on both. */
const ROUNDS = 3;
/** The fixed rate of the lag run: LAG_TX_ROWS rows every LAG_PACE_MS. */
const LAG_RATE = 5_000;
const LAG_TX_ROWS = 100;
const LAG_PACE_MS = (LAG_TX_ROWS / LAG_RATE) * 1000;
const LAG_MS = 6_000;
/** Not recorded: connections, JIT and the slot's first decoding warm up on these. */
const WARMUP_MS = 1_500;
/** A round not applied everywhere by then is reported with what arrived. */
const SETTLE_TIMEOUT_MS = 60_000;
/** The targets, for the paths as deployed; `wal-memory-l2` is a diagnosis (what the Redis L2 deletes cost), without one. */
const TARGET_RATE: Partial<Record<Kind, number>> = { wal: 20_000, outbox: 10_000 };
const TARGET_LAG_MS = 50;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Git-ignored: the whole CPU profiles go there. */
const RESULTS = fileURLToPath(new URL('../.results/', import.meta.url));

/** One applied event in one region: when, how late beyond the commit, how many row changes it carried. */
interface Applied {
  committedAt: number;
  publishedAt: number;
  appliedAt: number;
  changes: number;
}

interface Path {
  kind: Kind;
  writers: pg.Client[];
  /** Every CDC event applied per region, since the last `reset`. */
  applied: Map<string, Applied[]>;
  /** Changes applied per region since the last `reset`. */
  counts: Map<string, number>;
  wake: () => void;
  reset: () => void;
  /**
   * Resolves once every region's consumer group has handled (and acknowledged) every event on the
   * log, false after SETTLE_TIMEOUT_MS: the groups apply the events to the shared L2 apart from
   * the nodes' L1s, and their backlog must not spill into the next measurement.
   */
  groupsDrained: () => Promise<boolean>;
  close: () => Promise<void>;
}

/**
 * The change pipeline at full speed: writers commit UPDATEs of many rows per transaction on a real
 * PostgreSQL as fast as they can, captured by the WAL or the outbox, relayed to the invalidation
 * log on a real Redis and applied by three regions after their delays; then the same pipeline at a
 * fixed 5,000 changes/s, for its lag.
 */
export async function changeThroughput(progress: Progress): Promise<ScenarioOutput> {
  progress.update(0, 'starting PostgreSQL and redis-server');
  let postgres: PostgresServer | undefined;
  let redis: RedisServer | undefined;
  const paths: Path[] = [];
  try {
    postgres = await startPostgres();
    redis = await startRedis();
    for (const kind of KINDS) {
      progress.update(0.02, `starting the ${kind} path`);
      paths.push(await openPath(kind, postgres, redis));
    }
    const rounds = new Map<Kind, Throughput[]>(KINDS.map((kind) => [kind, []]));
    const steps = KINDS.length * (ROUNDS + 2) + PROFILED.length;
    let step = 0;
    for (const path of paths) {
      progress.update(0.05 + 0.9 * (step++ / steps), `${path.kind}: warm-up`);
      await fullSpeed(path, WARMUP_MS);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const path of paths) {
        progress.update(0.05 + 0.9 * (step++ / steps), `${path.kind}: full speed, round ${round}/${ROUNDS}`);
        rounds.get(path.kind)!.push(await fullSpeed(path, DRIVE_MS));
      }
    }
    const lags = new Map<Kind, LagRun>();
    for (const path of paths) {
      progress.update(0.05 + 0.9 * (step++ / steps), `${path.kind}: ${formatCount(LAG_RATE)} changes/s for lag`);
      lags.set(path.kind, await fixedRate(path));
    }
    const profiles = new Map<Kind, ProfileSummary>();
    for (const path of paths.filter((p) => PROFILED.includes(p.kind))) {
      progress.update(0.05 + 0.9 * (step++ / steps), `${path.kind}: one more round at full speed, profiled`);
      profiles.set(path.kind, await profiled(`pipeline-${path.kind}`, () => fullSpeed(path, DRIVE_MS)));
    }
    progress.update(0.97, 'closing the paths');
    return {
      rows: KINDS.map((kind) => throughputRow(kind, rounds.get(kind)!)),
      tables: [
        { title: `Lag at a fixed ${formatCount(LAG_RATE)} changes/s (${LAG_TX_ROWS} rows per transaction every ${LAG_PACE_MS} ms), beyond each region's delay`, rows: KINDS.flatMap((kind) => lagRows(kind, lags.get(kind)!)) },
        ...PROFILED.flatMap((kind) => profileTables(kind, profiles.get(kind)!)),
      ],
    };
  } finally {
    // Every step runs even if one before it failed: servers and slots must not outlive the run.
    for (const path of paths) await path.close();
    await redis?.stop().catch(report('stopping redis-server'));
    await postgres?.stop().catch(report('stopping PostgreSQL'));
  }
}

const report = (what: string) => (error: unknown) => process.stderr.write(`[pipeline] ${what} failed: ${String(error)}\n`);

async function openPath(kind: Kind, postgres: PostgresServer, redis: RedisServer): Promise<Path> {
  const capture = kind === 'outbox' ? 'outbox' : 'wal';
  const name = kind.replaceAll('-', '_');
  // A database of its own per path: none sees the others' rows, slot or outbox.
  const url = await postgres.createDatabase(`throughput_${name}`);
  const slot = capture === 'wal' ? `throughput_${name}_${process.pid}` : undefined;
  const logger = pino({ name: `freshcache-${kind}`, level: 'warn' }, pino.destination(2));
  const topology = await createTopology({
    config: {
      nodeId: `throughput-${kind}`,
      origin: { kind: 'postgres', url },
      capture: slot ? { kind: 'wal', slot } : { kind: 'outbox' },
      demo: true,
      log: { kind: 'redis', redis: { url: redis.url }, namespace: `throughput:${kind}:` },
      l2: kind === 'wal-memory-l2' ? { kind: 'memory' } : { kind: 'redis', redis: { url: redis.url }, namespace: `throughput:${kind}:l2:` },
      regions: REGIONS.map((r) => ({ ...r })),
      seed: false,
      relay: { pollMs: 1000 },
    },
    apps: [new DemoApp()],
    logger,
  });
  const writers = Array.from({ length: WRITERS }, () => new pg.Client({ connectionString: url }));
  // Reads the consumer groups' progress (XINFO GROUPS) on the log's stream.
  const probe = new Redis(redis.url, { lazyConnect: true });
  const stream = `throughput:${kind}:{log}:events`;
  const path: Path = {
    kind,
    writers,
    applied: new Map(),
    counts: new Map(),
    wake: () => {},
    reset: () => {
      path.applied = new Map(REGIONS.map((r) => [r.name, []]));
      path.counts = new Map(REGIONS.map((r) => [r.name, 0]));
    },
    groupsDrained: async () => {
      // Only the shared L2s on Redis have consumer groups.
      if (kind === 'wal-memory-l2') return true;
      const deadline = performance.now() + SETTLE_TIMEOUT_MS;
      while (performance.now() < deadline) {
        const groups = (await probe.xinfo('GROUPS', stream)) as unknown[][];
        const busy = groups.some((fields) => {
          const info = new Map<unknown, unknown>(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]]));
          return Number(info.get('pending')) > 0 || Number(info.get('lag')) > 0;
        });
        if (!busy) return true;
        await sleep(50);
      }
      return false;
    },
    close: async () => {
      logger.level = 'error';
      probe.disconnect();
      await topology.close().catch(report(`closing the ${kind} topology`));
      for (const writer of writers) await writer.end().catch(report(`closing a ${kind} writer`));
      if (slot) {
        const sql = await createPgClient({ connectionString: url, max: 1 });
        await dropWalSlot(sql, slot).catch(report(`dropping slot ${slot}`));
        await sql.close();
      }
    },
  };
  path.reset();
  try {
    if (topology.relayState !== 'running') throw new Error(`${kind}: the relay is ${topology.relayState}, expected running`);
    topology.events.on('invalidation.applied', (status: InvalidationStatus & { region: string }) => {
      if (status.source !== 'cdc') return;
      const progressOf = status.regions[status.region];
      if (!progressOf?.appliedAt) return;
      // Each row change is one `content:<id>` key of its transaction's event.
      const changes = status.keys.reduce((n, key) => (key.startsWith('content:') ? n + 1 : n), 0);
      path.applied.get(status.region)?.push({ committedAt: status.committedAt, publishedAt: status.publishedAt, appliedAt: progressOf.appliedAt, changes });
      path.counts.set(status.region, (path.counts.get(status.region) ?? 0) + changes);
      path.wake();
    });
    for (const writer of writers) await writer.connect();
    await probe.connect();
    // In transactions below the relay's maxTargets (10,000), so that each becomes an event naming its rows.
    for (let from = 0; from < ROWS; from += SEED_TX_ROWS) {
      await writers[0]!.query(`INSERT INTO content (slug, title, tags) SELECT 'item-' || i, 'Item ' || i, ARRAY['bench'] FROM generate_series($1::int + 1, $1::int + $2::int) AS i`, [from, SEED_TX_ROWS]);
    }
    // The inserts' own events: let them pass before anything is counted.
    await settled(path, ROWS);
    await path.groupsDrained();
  } catch (error) {
    await path.close();
    throw error;
  }
  return path;
}

/** One transaction: TX rows of the writer's own share of the table, starting at `from` (ids are 1..ROWS). */
function update(writer: pg.Client, from: number, rows: number, title: string): Promise<unknown> {
  return writer.query('UPDATE content SET title = $3 WHERE id > $1 AND id <= $2', [from, from + rows, title]);
}

interface Throughput {
  changes: number;
  /** Writers' commit rate: changes ÷ how long they committed. */
  commitRate: number;
  /** Per region: changes ÷ (last applied − the region's delay − first committed). */
  appliedRate: Map<string, number>;
  /** Changes ÷ (last published on the log − first committed). */
  logRate: number;
  complete: boolean;
  /** Changes ÷ (the consumer groups done − the slowest delay − first committed): how fast the shared L2s kept up; undefined without them. */
  groupRate: number | undefined;
}

/** Writers commit back to back for `ms`; then waits until every region applied every change. */
async function fullSpeed(path: Path, ms: number): Promise<Throughput> {
  path.reset();
  const share = ROWS / WRITERS;
  let changes = 0;
  const started = performance.now();
  const deadline = started + ms;
  await Promise.all(
    path.writers.map(async (writer, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await update(writer, w * share + ((i * TX_ROWS) % share), TX_ROWS, `full ${i}`);
        changes += TX_ROWS;
      }
    }),
  );
  const committing = performance.now() - started;
  const complete = await settled(path, changes);
  const drained = await path.groupsDrained();
  const drainedAt = Date.now();
  const all = [...path.applied.values()].flat();
  const firstCommit = Math.min(...all.map((a) => a.committedAt));
  const appliedRate = new Map(
    REGIONS.map((region) => {
      const lastApplied = Math.max(...path.applied.get(region.name)!.map((a) => a.appliedAt));
      return [region.name, (path.counts.get(region.name) ?? 0) / ((lastApplied - region.delayMs - firstCommit) / 1000)];
    }),
  );
  const lastPublished = Math.max(...all.map((a) => a.publishedAt));
  const slowestDelay = Math.max(...REGIONS.map((r) => r.delayMs));
  // Polled every 50 ms: the rate comes out a little low when the groups kept up.
  const groupRate = path.kind === 'wal-memory-l2' ? undefined : changes / ((drainedAt - slowestDelay - firstCommit) / 1000);
  return { changes, commitRate: changes / (committing / 1000), appliedRate, logRate: changes / ((lastPublished - firstCommit) / 1000), complete, groupRate: drained ? groupRate : Number.NaN };
}

interface LagRun {
  driven: number;
  /** Per region, one sample per change: applied − committed − the region's delay. */
  lags: Map<string, number[]>;
  /** One sample per change: published on the log − committed. */
  onLog: number[];
  /** One sample per change: how long its transaction's UPDATE took on the writer, commit included (the outbox dates a change at its transaction's start). */
  statement: number[];
}

/** LAG_TX_ROWS rows every LAG_PACE_MS on a fixed schedule for LAG_MS (a late one does not push the rest back). */
async function fixedRate(path: Path): Promise<LagRun> {
  path.reset();
  const writer = path.writers[0]!;
  const count = Math.round(LAG_MS / LAG_PACE_MS);
  const statement: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = started + i * LAG_PACE_MS - performance.now();
    if (wait > 0) await sleep(wait);
    const sent = performance.now();
    await update(writer, (i * LAG_TX_ROWS) % ROWS, LAG_TX_ROWS, `paced ${i}`);
    statement.push(...Array<number>(LAG_TX_ROWS).fill(performance.now() - sent));
  }
  const driven = count * LAG_TX_ROWS;
  await settled(path, driven);
  // Not measured: the next path's run must not share the machine with this one's L2 backlog.
  await path.groupsDrained();
  const expand = (applied: Applied[], lag: (a: Applied) => number) => applied.flatMap((a) => Array<number>(a.changes).fill(lag(a)));
  const lags = new Map(REGIONS.map((region) => [region.name, expand(path.applied.get(region.name)!, (a) => a.appliedAt - a.committedAt - region.delayMs)]));
  return { driven, lags, onLog: expand(path.applied.get(REGIONS[0].name)!, (a) => a.publishedAt - a.committedAt), statement };
}

/** Resolves true once every region applied `changes` changes, false after SETTLE_TIMEOUT_MS. */
async function settled(path: Path, changes: number): Promise<boolean> {
  const complete = () => REGIONS.every((r) => (path.counts.get(r.name) ?? 0) >= changes);
  if (complete()) return true;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => finish(false), SETTLE_TIMEOUT_MS);
    function finish(done: boolean) {
      clearTimeout(timer);
      path.wake = () => {};
      resolve(done);
    }
    path.wake = () => {
      if (complete()) finish(true);
    };
  });
}

const LABELS: Record<Kind, string> = {
  wal: 'WAL (logical replication, pgoutput)',
  outbox: 'outbox (trigger + NOTIFY)',
  'wal-memory-l2': 'WAL, each region\'s L2 in process memory (no Redis L2 deletes)',
};

function throughputRow(kind: Kind, rounds: Throughput[]): Row {
  const slowestL1 = rounds.map((r) => Math.min(...r.appliedRate.values()));
  // Applied in a region means every node's L1 and the region's shared L2: the lower of the two
  // rates is what the pipeline sustains (a group that never finished counts as 0).
  const inEvery = rounds.map((r, i) => Math.min(slowestL1[i]!, r.groupRate === undefined ? Infinity : Number.isNaN(r.groupRate) ? 0 : r.groupRate));
  const rate = median(inEvery);
  const complete = rounds.every((r) => r.complete);
  const target = TARGET_RATE[kind];
  return {
    path: LABELS[kind],
    'changes per round': formatCount(median(rounds.map((r) => r.changes))),
    'committed/s (writers)': formatCount(median(rounds.map((r) => r.commitRate))),
    'on the log/s': formatCount(median(rounds.map((r) => r.logRate))),
    ...Object.fromEntries(REGIONS.map((region) => [`L1 applied/s ${region.name}`, formatCount(median(rounds.map((r) => r.appliedRate.get(region.name)!)))])),
    'L2 consumer groups done/s':
      rounds[0]!.groupRate === undefined ? '—' : rounds.some((r) => Number.isNaN(r.groupRate)) ? `not done within ${SETTLE_TIMEOUT_MS / 1000} s` : formatCount(median(rounds.map((r) => r.groupRate!))),
    'changes/s applied in every region (median of rounds)': formatCount(rate),
    'min – max': `${formatCount(Math.min(...inEvery))} – ${formatCount(Math.max(...inEvery))}`,
    // Applied as fast as committed: the writers were the limit, and the figure is a floor of what the pipeline carries.
    'limited by': rate >= 0.95 * median(rounds.map((r) => r.commitRate)) ? 'the writers' : rate < median(slowestL1) ? 'the L2 consumer groups' : 'the pipeline',
    target: target === undefined ? '—' : `≥ ${formatCount(target)}/s`,
    met: target === undefined ? '' : verdict(complete && rate >= target),
  };
}

function lagRows(kind: Kind, run: LagRun): Row[] {
  const row = (region: string, what: string, samples: number[], withTarget: boolean): Row => {
    const target = withTarget && TARGET_RATE[kind] !== undefined;
    const p99 = percentile(samples, 0.99);
    return {
      path: LABELS[kind],
      region,
      measured: what,
      changes: `${formatCount(samples.length)} of ${formatCount(run.driven)}`,
      p50: ms(percentile(samples, 0.5)),
      p99: ms(p99),
      max: ms(samples.reduce((a, b) => Math.max(a, b), -Infinity)),
      target: target ? `p99 ≤ delay + ${TARGET_LAG_MS} ms` : '—',
      met: target ? verdict(samples.length === run.driven && p99 <= TARGET_LAG_MS) : '',
    };
  };
  return [
    ...REGIONS.map((region) => row(`${region.name} (delay ${region.delayMs} ms)`, `applied − committed − ${region.delayMs} ms`, run.lags.get(region.name)!, true)),
    row('— (the relay, before any delay)', 'published to the log − committed', run.onLog, false),
    row('— (the writer)', 'its UPDATE of 100 rows, commit included', run.statement, false),
  ];
}

function ms(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(0)} ms` : '—';
}

/** `run` under the inspector's CPU profiler (1 ms sampling); the whole profile is kept in bench/.results/<name>.cpuprofile. */
async function profiled(name: string, run: () => Promise<unknown>): Promise<ProfileSummary> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    await run();
    const { profile } = (await session.post('Profiler.stop')) as Profiler.StopReturnType;
    await writeFile(`${RESULTS}${name}.cpuprofile`, JSON.stringify(profile));
    return summariseProfile(profile, ROOT, 12);
  } finally {
    session.disconnect();
  }
}

function profileTables(kind: Kind, summary: ProfileSummary): { title: string; rows: Row[] }[] {
  const busy = `${(summary.busyMs / 1000).toFixed(1)} s busy of ${(summary.totalMs / 1000).toFixed(1)} s`;
  return [
    {
      title: `${LABELS[kind]}: where this process's CPU time goes in one more full-speed round (the relay, the three regions and the writers' pg clients; ${busy})`,
      rows: summary.groups.slice(0, 10).map((group) => ({ whose: group.group, 'self time': `${group.selfMs.toFixed(0)} ms`, share: formatRatio(group.share) })),
    },
    {
      title: `${LABELS[kind]}: top ${summary.top.length} functions by self time (same round)`,
      rows: summary.top.map((item) => ({ function: item.fn, where: item.where || '—', 'self time': `${item.selfMs.toFixed(0)} ms`, share: formatRatio(item.share) })),
    },
  ];
}
