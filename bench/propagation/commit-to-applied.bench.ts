import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import { createPgClient } from '../../packages/freshcache/src/adapters/postgres/pg-client.js';
import { dropWalSlot } from '../../packages/freshcache/src/adapters/postgres/wal-feed.js';
import type { ConfigInput, RegionInput } from '../../packages/freshcache-server/src/config.js';
import { freePort } from '../../packages/freshcache-server/src/tools/free-port.js';
import type { PostgresServer } from '../../packages/freshcache-server/src/tools/local-postgres.js';
import { startPostgres } from '../../packages/freshcache-server/src/tools/local-postgres.js';
import type { RedisServer } from '../../packages/freshcache-server/src/tools/local-redis.js';
import { startRedis } from '../../packages/freshcache-server/src/tools/local-redis.js';
import type { ServeProcess } from '../../packages/freshcache-server/src/tools/serve-process.js';
import { spawnServe, stopServe } from '../../packages/freshcache-server/src/tools/serve-process.js';
import type { InvalidationStatus } from '../../packages/freshcache-server/src/topology/invalidation-tracker.js';
import { DemoApp } from '../../packages/freshcache-server/src/demo/demo-app.js';
import { createTopology } from '../../packages/freshcache-server/src/topology/topology.js';
import { formatCount, verdict } from '../lib/format.js';
import { percentile } from '../lib/percentile.js';
import type { Progress } from '../lib/progress.js';
import type { Row } from '../lib/row.js';
import type { FollowedEvents } from './follow-events.js';
import { followEvents } from './follow-events.js';

/** In one process (`createTopology`: the relay and the three regions), or as a deployment of processes. */
type PathKind = 'wal' | 'outbox' | 'wal-processes';

const REGIONS = [
  { name: 'us-east', delayMs: 100, jitter: 0 },
  { name: 'eu-west', delayMs: 300, jitter: 0 },
  { name: 'ap-south', delayMs: 600, jitter: 0 },
] as const satisfies readonly RegionInput[];
const KINDS: readonly PathKind[] = ['wal', 'outbox', 'wal-processes'];
/** Node processes per region in the `wal-processes` path, as `freshcache up` starts them. */
const NODES_PER_REGION = 2;
/** Node processes run the TypeScript sources through tsx, as the integration tests do. */
const ENTRY = ['--conditions=freshcache-source', '--import', 'tsx', fileURLToPath(new URL('../../packages/freshcache-server/src/cli/main.ts', import.meta.url))];
/** Content rows the UPDATEs take turns on. */
const ROWS = 50;
/** Not recorded: connections, JIT and the slot's first decoding warm up on these. */
const WARMUP_UPDATES = 30;
/** Rounds taken in turn (wal, outbox, wal, …), so drifting machine load falls on both paths. */
const ROUNDS = 3;
const UPDATES_PER_ROUND = 100;
/** One UPDATE every PACE_MS: far below what either path can carry, so this measures latency, not a queue. */
const PACE_MS = 20;
/** A batch not applied everywhere by then is reported with what arrived (the slowest region is 600 ms behind). */
const SETTLE_TIMEOUT_MS = 10_000;
const TARGET_P99_MS = 20;

/** One path: its own database, relay and regions, and SQL connection for the UPDATEs. */
interface Path {
  kind: PathKind;
  /** Nodes that apply each event in each region (each one's lag is a sample). */
  nodesPerRegion: number;
  /** The writer: UPDATEs straight in SQL, as any application or psql would make them. */
  writer: pg.Client;
  /** Per origin version: commit → on the log, and commit → applied in each region, one lag per node. */
  seen: Map<number, { onLogMs: number; lagMs: Map<string, number[]> }>;
  /** Versions whose lag is reported. */
  recorded: number[];
  /** Called after every applied event, so a batch can wait for its last one without polling. */
  wake: () => void;
  /** Stops everything the path started (not measured); every step runs even if one before it failed. */
  close: () => Promise<void>;
}

/**
 * Commit → applied per region: UPDATEs made straight in SQL on a real PostgreSQL, captured by the
 * WAL (logical replication) or by the outbox table, relayed to the invalidation log on a real
 * Redis and applied by three regions after their configured delay, in one process or (WAL) by
 * node processes apart from the relay's. Reported per path and region: the time the invalidation
 * took beyond the region's delay. This is the tight figure; the integration tests assert only
 * that no region applies before its delay, and the regions' order.
 */
export async function commitToApplied(progress: Progress): Promise<Row[]> {
  progress.update(0, 'starting PostgreSQL and redis-server');
  let postgres: PostgresServer | undefined;
  let redis: RedisServer | undefined;
  const paths: Path[] = [];
  try {
    postgres = await startPostgres();
    redis = await startRedis();
    for (const kind of KINDS) {
      progress.update(0.02, `starting the ${kind} path`);
      paths.push(kind === 'wal-processes' ? await openProcesses(postgres, redis) : await openInProcess(kind, postgres, redis));
    }

    const totalUpdates = KINDS.length * (WARMUP_UPDATES + ROUNDS * UPDATES_PER_ROUND);
    let done = 0;
    const drive = async (path: Path, count: number, record: boolean, label: string) => {
      const versions = await paced(path, count, () => progress.update(0.05 + 0.9 * (++done / totalUpdates), `${path.kind}: ${label}`));
      await settled(path, versions);
      if (record) path.recorded.push(...versions);
    };
    for (const path of paths) await drive(path, WARMUP_UPDATES, false, 'warm-up');
    for (let round = 1; round <= ROUNDS; round++) {
      for (const path of paths) await drive(path, UPDATES_PER_ROUND, true, `round ${round}/${ROUNDS}`);
    }
    progress.update(0.97, 'closing the paths');
    return paths.flatMap(rowsOf);
  } finally {
    // Every step runs even if one before it failed: servers and the slot must not outlive the run.
    for (const path of paths) await path.close();
    await redis?.stop().catch(report('stopping redis-server'));
    await postgres?.stop().catch(report('stopping PostgreSQL'));
  }
}

const report = (what: string) => (error: unknown) => process.stderr.write(`[propagation] ${what} failed: ${String(error)}\n`);

/** Records one region's apply of one CDC event, as a node reported it. */
function heard(path: Path, status: InvalidationStatus & { region: string }): void {
  if (status.source !== 'cdc' || status.version === undefined) return;
  const lagMs = status.regions[status.region]?.lagMs;
  if (lagMs === null || lagMs === undefined) return;
  let seen = path.seen.get(status.version);
  if (!seen) path.seen.set(status.version, (seen = { onLogMs: status.publishedAt - status.committedAt, lagMs: new Map() }));
  const lags = seen.lagMs.get(status.region) ?? [];
  seen.lagMs.set(status.region, lags);
  if (lags.length < path.nodesPerRegion) lags.push(lagMs);
  path.wake();
}

async function dropSlotOf(url: string, slot: string): Promise<void> {
  const sql = await createPgClient({ connectionString: url, max: 1 });
  try {
    await dropWalSlot(sql, slot);
  } finally {
    await sql.close();
  }
}

async function openInProcess(capture: 'wal' | 'outbox', postgres: PostgresServer, redis: RedisServer): Promise<Path> {
  // A database of its own per path, as the contract tests do: neither sees the other's rows or outbox.
  const url = await postgres.createDatabase(`bench_${capture}`);
  const slot = capture === 'wal' ? `bench_wal_${process.pid}` : undefined;
  // Warnings and errors only, to stderr: stdout stays clean and a problem still shows.
  const logger = pino({ name: `freshcache-${capture}`, level: 'warn' }, pino.destination(2));
  const topology = await createTopology({
    config: {
      nodeId: `bench-${capture}`,
      origin: { kind: 'postgres', url },
      capture: slot ? { kind: 'wal', slot } : { kind: 'outbox' },
      demo: true,
      // One redis-server for both paths: a namespace each keeps their logs and L2s apart.
      log: { kind: 'redis', redis: { url: redis.url }, namespace: `bench:${capture}:` },
      l2: { kind: 'redis', redis: { url: redis.url }, namespace: `bench:${capture}:l2:` },
      regions: REGIONS.map((r) => ({ ...r })),
      seed: false,
      relay: { pollMs: 1000 },
    },
    // The demo's table and capture rule: the writes below change its rows.
    apps: [new DemoApp()],
    logger,
  });
  const writer = new pg.Client({ connectionString: url });
  const path: Path = {
    kind: capture,
    nodesPerRegion: 1,
    writer,
    seen: new Map(),
    recorded: [],
    wake: () => {},
    close: async () => {
      // Closing warns about things that are normal at shutdown: the relay "lost" its lock, and
      // each region's consumer group cannot acknowledge the events still in its L2 delay line
      // once its Redis connection is closed (they stay pending, for a claim).
      logger.level = 'error';
      await topology.close().catch(report(`closing the ${capture} topology`));
      await writer.end().catch(report(`closing the ${capture} writer`));
      if (slot) await dropSlotOf(url, slot).catch(report(`dropping slot ${slot}`));
    },
  };
  try {
    if (topology.relayState !== 'running') throw new Error(`${capture}: the relay is ${topology.relayState}, expected running`);
    topology.events.on('invalidation.applied', (status) => heard(path, status));
    await writer.connect();
    await writer.query(`INSERT INTO content (slug, title, tags) SELECT 'item-' || i, 'Item ' || i, ARRAY['bench'] FROM generate_series(1, ${ROWS}) AS i`);
  } catch (error) {
    await path.close();
    throw error;
  }
  return path;
}

/**
 * WAL capture as a deployment of processes, as `freshcache up` starts it: a relay process and
 * NODES_PER_REGION `freshcache serve` processes per region, each applying the log on its own;
 * each node's applies are heard on its `/api/events`.
 */
async function openProcesses(postgres: PostgresServer, redis: RedisServer): Promise<Path> {
  const url = await postgres.createDatabase('bench_processes');
  const slot = `bench_processes_${process.pid}`;
  const dir = await mkdtemp(join(tmpdir(), 'freshcache-bench-'));
  const config: ConfigInput = {
    origin: { kind: 'postgres', url },
    capture: { kind: 'wal', slot },
    demo: true,
    log: { kind: 'redis', redis: { url: redis.url }, namespace: 'bench:processes:' },
    l2: { kind: 'redis', redis: { url: redis.url }, namespace: 'bench:processes:l2:' },
    regions: REGIONS.map((r) => ({ ...r })),
    seed: false,
    relay: { pollMs: 1000 },
  };
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify(config));
  const processes: ServeProcess[] = [];
  const streams: FollowedEvents[] = [];
  const writer = new pg.Client({ connectionString: url });
  const path: Path = {
    kind: 'wal-processes',
    nodesPerRegion: NODES_PER_REGION,
    writer,
    seen: new Map(),
    recorded: [],
    wake: () => {},
    close: async () => {
      await Promise.all(streams.map((stream) => stream.close()));
      await Promise.all(processes.map((p) => stopServe(p, 3_000).catch(report(`stopping ${p.name}`))));
      await writer.end().catch(report('closing the processes writer'));
      await dropSlotOf(url, slot).catch(report(`dropping slot ${slot}`));
      await rm(dir, { recursive: true, force: true });
    },
  };
  const start = async (name: string, roles: string) => {
    const started = await spawnServe({
      name,
      entry: ENTRY,
      config: file,
      env: { FRESHCACHE_ROLES: roles, FRESHCACHE_PORT: String(await freePort()), FRESHCACHE_NODE_ID: name, FRESHCACHE_LOG_LEVEL: 'warn' },
      onStderr: (text) => process.stderr.write(`[${name}] ${text}`),
    });
    processes.push(started);
    return started;
  };
  try {
    // The relay creates the schema and the slot before the nodes need them.
    await start('relay', 'relay');
    const nodes = await Promise.all(
      REGIONS.flatMap((region) => Array.from({ length: NODES_PER_REGION }, (_, i) => start(`${region.name}-${i + 1}`, region.name))),
    );
    for (const node of nodes) {
      streams.push(
        await followEvents(`${node.url}/api/events`, (name, data) => {
          if (name === 'invalidation.applied') heard(path, data as InvalidationStatus & { region: string });
        }),
      );
    }
    await writer.connect();
    await writer.query(`INSERT INTO content (slug, title, tags) SELECT 'item-' || i, 'Item ' || i, ARRAY['bench'] FROM generate_series(1, ${ROWS}) AS i`);
  } catch (error) {
    await path.close();
    throw error;
  }
  return path;
}

/** `count` UPDATEs, one every PACE_MS on a fixed schedule (a late one does not push the rest back); resolves their versions. */
async function paced(path: Path, count: number, onEach: () => void): Promise<number[]> {
  const versions: number[] = [];
  const { rows: ids } = await path.writer.query<{ id: string }>('SELECT id FROM content ORDER BY id LIMIT $1', [ROWS]);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = started + i * PACE_MS - performance.now();
    if (wait > 0) await sleep(wait);
    const { rows } = await path.writer.query<{ version: string }>('UPDATE content SET title = $2 WHERE id = $1 RETURNING version', [
      ids[i % ids.length]!.id,
      `title ${path.kind} ${versions.length}`,
    ]);
    versions.push(Number(rows[0]!.version));
    onEach();
  }
  return versions;
}

/** Resolves once every region applied every one of `versions`, or after SETTLE_TIMEOUT_MS (the rows then show fewer applied). */
async function settled(path: Path, versions: readonly number[]): Promise<void> {
  const complete = () => versions.every((v) => REGIONS.every((r) => path.seen.get(v)?.lagMs.get(r.name)?.length === path.nodesPerRegion));
  if (complete()) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(finish, SETTLE_TIMEOUT_MS);
    function finish() {
      clearTimeout(timer);
      path.wake = () => {};
      resolve();
    }
    path.wake = () => {
      if (complete()) finish();
    };
  });
}

const LABELS: Record<PathKind, string> = {
  wal: 'WAL (logical replication, pgoutput), one process',
  outbox: 'outbox (trigger + NOTIFY, poll 1 s), one process',
  'wal-processes': `WAL, a relay process and ${NODES_PER_REGION} node processes per region (each node a sample)`,
};

function rowsOf(path: Path): Row[] {
  const label = LABELS[path.kind];
  const row = (region: string, what: string, samples: number[], driven: number, target: boolean): Row => {
    const p99 = percentile(samples, 0.99);
    return {
      path: label,
      region,
      measured: what,
      count: `${formatCount(samples.length)} of ${formatCount(driven)}`,
      p50: ms(percentile(samples, 0.5)),
      p99: ms(p99),
      max: ms(Math.max(...samples)),
      target: target ? `p99 ≤ ${TARGET_P99_MS} ms` : '—',
      // Events that never arrived count against the target too.
      met: target ? verdict(samples.length === driven && p99 <= TARGET_P99_MS) : '',
    };
  };
  const rows = REGIONS.map((region) =>
    row(
      `${region.name} (delay ${region.delayMs} ms)`,
      `applied − committed − ${region.delayMs} ms`,
      path.recorded.flatMap((v) => path.seen.get(v)?.lagMs.get(region.name) ?? []).map((lag) => lag - region.delayMs),
      path.recorded.length * path.nodesPerRegion,
      true,
    ),
  );
  const onLog = path.recorded.map((v) => path.seen.get(v)?.onLogMs).filter((lag): lag is number => lag !== undefined);
  rows.push(row('— (the relay, before any delay)', 'published to the log − committed', onLog, path.recorded.length, false));
  return rows;
}

/** Both ends of every figure are millisecond timestamps (Date.now(), the commit time floored to ms): show whole ms. */
function ms(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(0)} ms` : '—';
}
