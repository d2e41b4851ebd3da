import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { slotKey } from '../../packages/freshcache/src/adapters/redis/redis-keys.js';
import type { ContentRecord } from '../../packages/freshcache-server/src/demo/content-store.js';
import { DemoApp } from '../../packages/freshcache-server/src/demo/demo-app.js';
import type { ConfigInput } from '../../packages/freshcache-server/src/config.js';
import { startPostgres } from '../../packages/freshcache-server/src/tools/local-postgres.js';
import type { PostgresServer } from '../../packages/freshcache-server/src/tools/local-postgres.js';
import { startRedisCluster } from '../../packages/freshcache-server/src/tools/local-redis-cluster.js';
import type { LocalRedisCluster, RedisClusterNode } from '../../packages/freshcache-server/src/tools/local-redis-cluster.js';
import { createTopology } from '../../packages/freshcache-server/src/topology/topology.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { formatCount, formatMs, formatRatio, verdict } from '../lib/format.js';
import { percentile } from '../lib/percentile.js';
import type { Progress } from '../lib/progress.js';
import type { Row, ScenarioOutput } from '../lib/row.js';

/** Content rows at the origin, twice the default L1 (10,000 entries): about half the reads reach L2. */
export const KEYS = 20_000;
const REGION = 'us-east';
/** Nodes of the region, as `freshcache up --nodes 2` runs them: one L2 on the Cluster, an L1 each. */
const NODES = 2;
const L2_NAMESPACE = 'bench:l2:';
const LOG_NAMESPACE = 'bench:';
/**
 * An open model: reads are due on a schedule whether or not earlier ones answered (as users
 * arrive). While every read goes to the origin, the origin, the nodes and the Cluster share this
 * machine's 2 cores: at 2,000 reads/s they saturated and reads went unsent, so the rate is 1,000.
 */
const READS_PER_SECOND = 1_000;
/** Reads due beyond this many in flight are not sent, and counted as such. */
const MAX_IN_FLIGHT = 1_000;
/** UPDATEs of random rows at the origin, captured by the relay (outbox) and put on the log. */
const WRITES_PER_SECOND = 20;
const WARM_CONCURRENCY = 32;
const BASELINE_MS = 4_000;
/**
 * How long the load goes on once the killed primary's slots answer L2 hits again: long enough to
 * see whether the origin's load falls back (the per-bucket table stops 2 s after that hit).
 */
const AFTER_MS = 8_000;
const BUCKETS_AFTER_MS = 2_000;
/** A failover not over by then is reported as it stands. */
const WINDOW_LIMIT_MS = 20_000;
const BUCKET_MS = 250;
const POLL_MS = 25;
/** Buckets shown before the kill in the per-bucket table. */
const BUCKETS_BEFORE = 4;

type Outcome = 'l1' | 'l2' | 'origin' | 'failed';
interface Read {
  /** performance.now() when it was sent. */
  at: number;
  ms: number;
  outcome: Outcome;
  /** Whether the key's slot was the killed primary's. */
  killedSlot: boolean;
  error?: string;
}
interface Mark {
  at: number;
  what: string;
}

/** Which primary the failover bench kills: the one that holds the invalidation log's slot, or another. */
export type Victim = 'log' | 'other';

/**
 * Kill -9 of a Redis Cluster primary (3 primaries, 1 replica each) under a read and write load
 * through a region of two freshcache nodes whose L2 and invalidation log are on the Cluster: when
 * its replica takes over, when its slots answer L2 hits again, what failed, what the other
 * primaries' slots saw, and the load on the origin. Twice: the log's primary, another one.
 */
export async function failover(progress: Progress): Promise<ScenarioOutput> {
  progress.update(0, 'starting PostgreSQL');
  let postgres: PostgresServer | undefined;
  const rows: Row[] = [];
  const others: Row[] = [];
  const buckets: { title: string; rows: Row[] }[] = [];
  try {
    postgres = await startPostgres();
    const victims: Victim[] = ['log', 'other'];
    for (const [i, victim] of victims.entries()) {
      const result = await run(postgres, victim, (fraction, label) => progress.update((i + fraction) / victims.length, `${victim}: ${label}`));
      rows.push(result.row);
      others.push(result.others);
      buckets.push({ title: `Per ${BUCKET_MS} ms, kill -9 of ${result.row['killed primary']}`, rows: result.buckets });
    }
    const othersTitle = 'The other primaries\' slots: reads of their keys that missed L1, and how L2 served them (during: from the kill to the first L2 hit on the killed primary\'s slots)';
    return { rows, tables: [{ title: othersTitle, rows: others }, ...buckets] };
  } finally {
    await postgres?.stop().catch((error: unknown) => process.stderr.write(`[failover] stopping PostgreSQL failed: ${String(error)}\n`));
  }
}

async function run(postgres: PostgresServer, victimKind: Victim, progress: (fraction: number, label: string) => void): Promise<{ row: Row; others: Row; buckets: Row[] }> {
  progress(0, 'starting a Redis Cluster of 3 primaries with 1 replica each');
  let cluster: LocalRedisCluster | undefined;
  const topologies: Topology[] = [];
  const marks: Mark[] = [];
  const url = await postgres.createDatabase(`bench_failover_${victimKind}`);
  const writer = new pg.Client({ connectionString: url });
  try {
    // The test cluster's default node timeout (2 s; Redis's own default is 15 s).
    cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
    const origin: number[] = [];
    const warnings: string[] = [];
    for (let n = 1; n <= NODES; n++) {
      topologies.push(await startNode(n, url, cluster, origin, marks, warnings));
    }
    const [relayNode] = topologies;
    await writer.connect();
    progress(0.05, `inserting ${formatCount(KEYS)} rows`);
    const inserted = new Promise<void>((resolve) => relayNode!.events.once('invalidation.applied', () => resolve()));
    await writer.query(`INSERT INTO content (slug, title, tags) SELECT 'item-' || i, 'Item ' || i, ARRAY['bench'] FROM generate_series(1, ${KEYS}) AS i`);
    // Fills that start before the insert's invalidation is applied would be refused as stale sets.
    await Promise.race([inserted, sleep(30_000).then(() => Promise.reject(new Error('the insert\'s invalidation was not applied within 30 s')))]);

    const owners = await slotOwners(cluster);
    const victim = pickVictim(cluster, owners, victimKind);
    const replica = cluster.nodes.find((node) => node.replicaOf === victim.name)!;
    const killedSlot = owners.keys.map((port) => port === victim.server.port);
    const victimSlots = victim.slots.reduce((sum, [first, last]) => sum + last - first + 1, 0);

    for (const [n, topology] of topologies.entries()) {
      progress(0.1 + 0.15 * (n / NODES), `warming node ${n + 1}: every key once`);
      await warm(topology);
    }
    const originBeforeLoad = origin.length;

    progress(0.25, `baseline load, ${formatCount(READS_PER_SECOND)} reads/s and ${WRITES_PER_SECOND} writes/s`);
    const load = startLoad(topologies, writer, killedSlot);
    await sleep(BASELINE_MS);

    progress(0.4, `kill -9 ${victim.name}`);
    const killedAt = performance.now();
    await victim.server.kill();
    marks.push({ at: killedAt, what: `kill -9 ${victim.name}` });
    const watch = watchClusterNodes(cluster, victim, replica, marks);
    const firstL2Hit = async (): Promise<number | undefined> => {
      const deadline = killedAt + WINDOW_LIMIT_MS;
      while (performance.now() < deadline) {
        const hit = load.reads.find((read) => read.at > killedAt && read.killedSlot && read.outcome === 'l2');
        if (hit) return hit.at;
        progress(0.4 + (0.4 * (performance.now() - killedAt)) / WINDOW_LIMIT_MS, 'waiting for an L2 hit on its slots');
        await sleep(100);
      }
      return undefined;
    };
    const backAt = await firstL2Hit();
    if (backAt !== undefined) marks.push({ at: backAt, what: `first L2 hit on ${victim.name}'s slots` });
    progress(0.85, 'load after the failover');
    await sleep(AFTER_MS);
    const endedAt = performance.now();
    await load.stop();
    await watch.stop();

    const reads = load.reads;
    const windowEnd = backAt ?? endedAt;
    const before = reads.filter((r) => r.at >= killedAt - BASELINE_MS && r.at < killedAt);
    const during = reads.filter((r) => r.at >= killedAt && r.at < windowEnd);
    const after = reads.filter((r) => r.at >= windowEnd && r.at < endedAt);
    const failedDuring = during.filter((r) => r.outcome === 'failed');
    const failedAll = reads.filter((r) => r.outcome === 'failed');
    const originRate = (from: number, to: number) => (origin.filter((t) => t >= from && t < to).length / (to - from)) * 1000;
    const peak = Math.max(...bucketStarts(killedAt, windowEnd).map((start) => originRate(start, start + BUCKET_MS)));
    const others = (phase: Read[]) => phase.filter((r) => !r.killedSlot);
    const l2Ratio = (phase: Read[]) => {
      const missedL1 = others(phase).filter((r) => r.outcome !== 'l1');
      return missedL1.length === 0 ? '—' : formatRatio(missedL1.filter((r) => r.outcome === 'l2').length / missedL1.length);
    };
    const l2Latency = (phase: Read[]) => {
      const ms = others(phase)
        .filter((r) => r.outcome === 'l2')
        .map((r) => r.ms);
      return ms.length === 0 ? '—' : `${formatMs(percentile(ms, 0.5))} / ${formatMs(percentile(ms, 0.99))}`;
    };
    const latency = (phase: Read[]) => {
      const ms = phase.filter((r) => r.outcome !== 'failed').map((r) => r.ms);
      return `${formatMs(percentile(ms, 0.5))} / ${formatMs(percentile(ms, 0.99))}`;
    };
    const since = (what: string) => {
      const mark = marks.find((m) => m.what.startsWith(what));
      return mark ? `${((mark.at - killedAt) / 1000).toFixed(2)} s` : 'never';
    };
    const flushes = marks.filter((m) => m.at >= killedAt && m.what.includes('flushed'));
    const flushReasons = countBy(flushes.map((m) => /\((.*)\)/.exec(m.what)?.[1] ?? '?'));
    const killedDuring = during.filter((r) => r.killedSlot);
    const errors = countBy(failedAll.map((r) => r.error ?? '?'));
    const row: Row = {
      'killed primary': `${victim.name} (${victimSlots.toLocaleString('en-US')} slots${victimKind === 'log' ? ', the log\'s' : ', not the log\'s'})`,
      'marked failed': since(`${victim.name} marked failed`),
      'replica promoted': since(`${replica.name} promoted`),
      'first L2 hit on its slots': backAt === undefined ? `none within ${WINDOW_LIMIT_MS / 1000} s` : `${((backAt - killedAt) / 1000).toFixed(2)} s`,
      'L1 flushes (both nodes)':
        flushes.length === 0
          ? 'none'
          : `${flushes.length}, ${((flushes[0]!.at - killedAt) / 1000).toFixed(2)} s to ${((flushes.at(-1)!.at - killedAt) / 1000).toFixed(2)} s (${flushReasons})`,
      'reads during': formatCount(during.length),
      'failed reads': formatCount(failedDuring.length) + (failedAll.length > failedDuring.length ? ` (${formatCount(failedAll.length)} in the whole run)` : '') + (errors ? `: ${errors}` : ''),
      'read p50 / p99 before': latency(before),
      'its slots: read p50 / p99 during': latency(killedDuring),
      'its slots during: origin / L1': `${formatCount(killedDuring.filter((r) => r.outcome === 'origin').length)} / ${formatCount(killedDuring.filter((r) => r.outcome === 'l1').length)}`,
      'origin loads/s before / during / peak 250 ms / after': [
        originRate(killedAt - BASELINE_MS, killedAt),
        originRate(killedAt, windowEnd),
        peak,
        originRate(windowEnd, endedAt),
      ]
        .map(formatCount)
        .join(' / '),
      'origin loads during, over the rate before': formatCount(origin.filter((t) => t >= killedAt && t < windowEnd).length - (originRate(killedAt - BASELINE_MS, killedAt) * (windowEnd - killedAt)) / 1000),
      'reads not sent (over the in-flight cap)': formatCount(load.skipped()),
      target: '0 failed reads',
      met: verdict(failedAll.length === 0),
    };
    process.stderr.write(`[failover] ${victimKind}: warm-up loaded ${formatCount(originBeforeLoad)} rows; marks: ${marks.map((m) => `${((m.at - killedAt) / 1000).toFixed(2)} s ${m.what}`).join('; ')}\n`);
    process.stderr.write(`[failover] ${victimKind}: the nodes' other warnings: ${countBy(warnings) || 'none'}\n`);
    const otherSlots: Row = {
      'killed primary': row['killed primary']!,
      'L2 hit ratio before': l2Ratio(before),
      during: l2Ratio(during),
      after: l2Ratio(after),
      'L2 hit p50 / p99 before': l2Latency(before),
      'L2 hit p50 / p99 during': l2Latency(during),
      'L2 hit p50 / p99 after': l2Latency(after),
      'read p50 / p99 during (any tier)': latency(others(during)),
    };
    return { row, others: otherSlots, buckets: bucketRows(reads, origin, marks, killedAt, Math.min(endedAt, windowEnd + BUCKETS_AFTER_MS)) };
  } finally {
    for (const topology of topologies) await topology.close().catch((error: unknown) => process.stderr.write(`[failover] closing a node failed: ${String(error)}\n`));
    await writer.end().catch(() => {});
    await cluster?.stop();
  }
}

/** One freshcache node as `serve` builds it (createTopology: the parts from the config), the first one also the relay. */
async function startNode(n: number, url: string, cluster: LocalRedisCluster, origin: number[], marks: Mark[], warnings: string[]): Promise<Topology> {
  // Breaker changes and flushes are read from the node's own warnings; the others are counted
  // (a failover makes hundreds, e.g. each invalidation the open breaker kept from L2).
  const logger = pino(
    { name: `node-${n}`, level: 'warn' },
    {
      write: (line: string) => {
        const record = JSON.parse(line) as { msg?: string; to?: string; reason?: string; breaker?: string };
        const at = performance.now();
        if (record.msg === 'redis circuit breaker changed state') marks.push({ at, what: `node-${n}: ${record.breaker} breaker ${record.to}` });
        else if (record.msg === 'region flushed its cache') marks.push({ at, what: `node-${n}: L1 flushed (${record.reason})` });
        // Event ids and times are left out, so that the same warning is counted as one.
        else if (!closing) warnings.push(`node-${n}: ${(record.msg ?? line).replace(/\d[\d-]*/g, '#')}`);
      },
    },
  );
  let closing = false;
  const app = new DemoApp();
  const redis = { cluster: cluster.seeds };
  const config: ConfigInput = {
    nodeId: `node-${n}`,
    origin: { kind: 'postgres', url },
    capture: { kind: 'outbox' },
    demo: true,
    log: { kind: 'redis', redis, namespace: LOG_NAMESPACE },
    l2: { kind: 'redis', redis, namespace: L2_NAMESPACE },
    regions: [{ name: REGION, delayMs: 0, jitter: 0, ttlMs: 3_600_000 }],
    roles: { regions: [REGION], relay: n === 1 },
    seed: false,
  };
  const topology = await createTopology({ config, apps: [app], logger });
  // Every origin read the loaders make, timed: the demo's loader reads `app.store`.
  const store = app.store;
  const get = store.get.bind(store);
  store.get = (id: number): Promise<ContentRecord | undefined> => {
    origin.push(performance.now());
    return get(id);
  };
  const close = topology.close.bind(topology);
  topology.close = async () => {
    // Closing warns about what is normal at shutdown (the relay's lock, unacknowledged group events).
    closing = true;
    await close();
  };
  return topology;
}

/** Each key's L2 slot owner (a primary's port) when the cluster formed. */
async function slotOwners(cluster: LocalRedisCluster): Promise<{ keys: number[]; log: number }> {
  const owner = new Map<number, number>();
  for (const node of cluster.nodes) for (const [first, last] of node.slots) for (let s = first; s <= last; s++) owner.set(s, node.server.port);
  const redis = new Redis(cluster.seeds[0]!.port, cluster.seeds[0]!.host);
  try {
    const pipeline = redis.pipeline();
    for (let id = 1; id <= KEYS; id++) pipeline.call('CLUSTER', 'KEYSLOT', slotKey(`${L2_NAMESPACE}${REGION}:`, `content:${id}`));
    const slots = ((await pipeline.exec()) ?? []).map(([error, slot]) => {
      if (error) throw error;
      return Number(slot);
    });
    const logSlot = Number(await redis.call('CLUSTER', 'KEYSLOT', `${LOG_NAMESPACE}{log}:events`));
    // Index 0 is unused: ids start at 1.
    return { keys: [0, ...slots.map((slot) => owner.get(slot)!)], log: owner.get(logSlot)! };
  } finally {
    redis.disconnect();
  }
}

function pickVictim(cluster: LocalRedisCluster, owners: { log: number }, kind: Victim): RedisClusterNode {
  const primaries = cluster.nodes.filter((node) => node.role === 'primary');
  const victim = primaries.find((node) => (node.server.port === owners.log) === (kind === 'log'));
  if (!victim) throw new Error(`no primary to kill for "${kind}"`);
  return victim;
}

/** Reads every key once through the node (L1 → L2 → origin), so L2 holds them all and L1 its last 10,000. */
async function warm(topology: Topology): Promise<void> {
  const region = topology.region(REGION);
  let next = 1;
  await Promise.all(
    Array.from({ length: WARM_CONCURRENCY }, async () => {
      for (let id = next++; id <= KEYS; id = next++) await region.cache.lookupOrLoad(`content:${id}`);
    }),
  );
}

/** Reads of random keys on a schedule, spread over the nodes, and UPDATEs of random rows. */
function startLoad(topologies: Topology[], writer: pg.Client, killedSlot: boolean[]) {
  const reads: Read[] = [];
  const regions = topologies.map((topology) => topology.region(REGION));
  let inFlight = 0;
  let skipped = 0;
  let sent = 0;
  const pending = new Set<Promise<void>>();
  const started = performance.now();
  const read = (n: number) => {
    const id = 1 + Math.floor(Math.random() * KEYS);
    const at = performance.now();
    inFlight++;
    const done = regions[n % regions.length]!.cache.lookupOrLoad(`content:${id}`).then(
      (lookup) => {
        reads.push({ at, ms: performance.now() - at, outcome: lookup.tier, killedSlot: killedSlot[id]! });
      },
      (error: unknown) => {
        reads.push({ at, ms: performance.now() - at, outcome: 'failed', killedSlot: killedSlot[id]!, error: (error as Error).message.slice(0, 80) });
      },
    );
    const tracked = done.finally(() => {
      inFlight--;
      pending.delete(tracked);
    });
    pending.add(tracked);
  };
  const readTimer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * READS_PER_SECOND);
    for (; sent < due; sent++) {
      if (inFlight >= MAX_IN_FLIGHT) skipped++;
      else read(sent);
    }
  }, 5);
  let writing: Promise<unknown> = Promise.resolve();
  let writes = 0;
  let failedWrites = 0;
  const writeTimer = setInterval(() => {
    writing = writing.then(() =>
      writer.query('UPDATE content SET title = $2 WHERE id = $1', [1 + Math.floor(Math.random() * KEYS), `title ${++writes}`]).catch(() => failedWrites++),
    );
  }, 1000 / WRITES_PER_SECOND);
  return {
    reads,
    skipped: () => skipped,
    stop: async () => {
      clearInterval(readTimer);
      clearInterval(writeTimer);
      await Promise.all(pending);
      await writing;
      if (failedWrites > 0) process.stderr.write(`[failover] ${failedWrites} of ${writes} UPDATEs failed\n`);
    },
  };
}

/**
 * Polls CLUSTER NODES on a surviving primary (Redis sends no event for a failover): when it
 * marks the killed primary failed, and when it sees its replica as a primary.
 */
function watchClusterNodes(cluster: LocalRedisCluster, victim: RedisClusterNode, replica: RedisClusterNode, marks: Mark[]) {
  const witness = cluster.nodes.find((node) => node.role === 'primary' && node !== victim)!;
  const redis = new Redis(witness.server.port, witness.server.host);
  let failed = false;
  let promoted = false;
  let running = true;
  const loop = (async () => {
    while (running && !(failed && promoted)) {
      const lines = String(await redis.call('CLUSTER', 'NODES')).split('\n');
      const flagsOf = (port: number) => lines.find((line) => line.split(' ')[1]?.startsWith(`${witness.server.host}:${port}@`))?.split(' ')[2]?.split(',') ?? [];
      const at = performance.now();
      if (!failed && flagsOf(victim.server.port).includes('fail')) {
        failed = true;
        marks.push({ at, what: `${victim.name} marked failed` });
      }
      if (!promoted && flagsOf(replica.server.port).includes('master')) {
        promoted = true;
        marks.push({ at, what: `${replica.name} promoted` });
      }
      await sleep(POLL_MS);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop.catch((error: unknown) => process.stderr.write(`[failover] watching CLUSTER NODES failed: ${String(error)}\n`));
      redis.disconnect();
    },
  };
}

function bucketStarts(from: number, to: number): number[] {
  const starts: number[] = [];
  for (let start = from; start < to; start += BUCKET_MS) starts.push(start);
  return starts;
}

/** The run per 250 ms from just before the kill: what served the reads, and the origin's load. */
function bucketRows(reads: Read[], origin: number[], marks: Mark[], killedAt: number, endedAt: number): Row[] {
  const rows: Row[] = [];
  const starts = bucketStarts(killedAt - BUCKETS_BEFORE * BUCKET_MS, endedAt - BUCKET_MS / 2);
  const peak = Math.max(1, ...starts.map((start) => origin.filter((t) => t >= start && t < start + BUCKET_MS).length));
  for (const start of starts) {
    const end = start + BUCKET_MS;
    const inBucket = reads.filter((r) => r.at >= start && r.at < end);
    const count = (killed: boolean, outcome: Outcome) => inBucket.filter((r) => r.killedSlot === killed && r.outcome === outcome).length;
    const loads = origin.filter((t) => t >= start && t < end).length;
    rows.push({
      't (s)': ((start - killedAt) / 1000).toFixed(2),
      reads: formatCount(inBucket.length),
      'its slots: L1 / L2 / origin / failed': [count(true, 'l1'), count(true, 'l2'), count(true, 'origin'), count(true, 'failed')].map(formatCount).join(' / '),
      'other slots: L1 / L2 / origin / failed': [count(false, 'l1'), count(false, 'l2'), count(false, 'origin'), count(false, 'failed')].map(formatCount).join(' / '),
      'origin loads/s': formatCount((loads / BUCKET_MS) * 1000),
      chart: '█'.repeat(Math.round((20 * loads) / peak)),
      events: marks
        .filter((m) => m.at >= start && m.at < end)
        .map((m) => m.what)
        .join('; '),
    });
  }
  return rows;
}

function countBy(values: string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].map(([value, count]) => `${count} × ${value}`).join('; ');
}
