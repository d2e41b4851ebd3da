import { Redis } from 'ioredis';
import type { Cluster } from 'ioredis';
import { createRedisConnection } from '../../packages/freshcache/src/adapters/redis/redis-connection.js';
import { RedisStore } from '../../packages/freshcache/src/adapters/redis/redis-store.js';
import type { Entry } from '../../packages/freshcache/src/seams/entry.js';
import { startRedis } from '../../packages/freshcache-server/src/tools/local-redis.js';
import type { RedisServer } from '../../packages/freshcache-server/src/tools/local-redis.js';
import { startRedisCluster } from '../../packages/freshcache-server/src/tools/local-redis-cluster.js';
import type { LocalRedisCluster } from '../../packages/freshcache-server/src/tools/local-redis-cluster.js';
import { RedisClusterAdmin } from '../../packages/freshcache-server/src/topology/redis-cluster-admin.js';
import type { PreparedOperation } from '../../packages/freshcache-server/src/topology/redis-cluster-admin.js';
import { formatCount, formatMs, verdict } from '../lib/format.js';
import { percentile } from '../lib/percentile.js';
import type { Progress } from '../lib/progress.js';
import type { Row } from '../lib/row.js';

export const KEYS = 1_000_000;
/** Requests in flight during the load: readers and writers of random keys through one Cluster connection. */
const READERS = 32;
const WRITERS = 8;
const FILL_CONCURRENCY = 512;
/** How long the load runs on its own before each operation, for the baseline latencies. */
const BASELINE_MS = 5_000;

function entry(version: number): Entry {
  const now = Date.now();
  const value = { id: version, name: `item ${version}`, body: 'x'.repeat(64) };
  return { value, version, tags: [], createdAt: now, expiresAt: now + 86_400_000, staleAt: now + 86_400_000, size: 100, generation: 0 };
}

async function dbsize(server: RedisServer): Promise<number> {
  const redis = new Redis(server.port, server.host);
  try {
    return await redis.dbsize();
  } finally {
    redis.disconnect();
  }
}

/** Reads and writes of random keys; latencies and failures are kept per phase (`mark` starts a new one). */
function startLoad(store: RedisStore) {
  let running = true;
  let phase = { ok: 0, failed: 0, latenciesMs: [] as number[], errors: new Map<string, number>() };
  const record = (startedAt: number, error?: unknown) => {
    if (error) {
      phase.failed++;
      const reason = (error as Error).message.slice(0, 80);
      phase.errors.set(reason, (phase.errors.get(reason) ?? 0) + 1);
    } else {
      phase.ok++;
    }
    // One in 8 latencies is kept: enough for a p99 over tens of thousands of requests.
    if ((phase.ok + phase.failed) % 8 === 0) phase.latenciesMs.push(performance.now() - startedAt);
  };
  const worker = async (write: boolean) => {
    let version = 1;
    while (running) {
      const key = `item:${Math.floor(Math.random() * KEYS)}`;
      const startedAt = performance.now();
      try {
        if (write) await store.set(key, entry(version++));
        else await store.get(key);
        record(startedAt);
      } catch (error) {
        record(startedAt, error);
      }
    }
  };
  const done = Promise.all([...Array.from({ length: READERS }, () => worker(false)), ...Array.from({ length: WRITERS }, () => worker(true))]);
  return {
    /** The counts since the last mark, and a new phase from now. */
    mark: () => {
      const ended = phase;
      phase = { ok: 0, failed: 0, latenciesMs: [], errors: new Map() };
      return ended;
    },
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/**
 * Resharding a Redis Cluster that holds 1 M keys while a load of reads and writes runs: one
 * primary's worth of slots onto a fourth primary, then off it again, each through
 * RedisClusterAdmin (redis-cli --cluster), timed, with the load's failures and latencies before
 * and during.
 */
export async function resharding(progress: Progress): Promise<Row[]> {
  progress.update(0, 'starting a Redis Cluster of 3 primaries and a fourth redis-server');
  let cluster: LocalRedisCluster | undefined;
  let newcomer: RedisServer | undefined;
  let client: Cluster | undefined;
  const rows: Row[] = [];
  try {
    cluster = await startRedisCluster({ primaries: 3 });
    newcomer = await startRedis({ cluster: true });
    client = createRedisConnection({ cluster: cluster.seeds, onError: (error) => process.stderr.write(`redis connection error: ${error.message}\n`) });
    const store = new RedisStore({ redis: client, prefix: 'bench:' });

    let filled = 0;
    const fillStarted = performance.now();
    await Promise.all(
      Array.from({ length: FILL_CONCURRENCY }, async () => {
        for (let i = filled++; i < KEYS; i = filled++) {
          await store.set(`item:${i}`, entry(0));
          if (i % 50_000 === 0) progress.update((0.3 * i) / KEYS, `filling ${formatCount(i)} / ${formatCount(KEYS)} keys`);
        }
      }),
    );
    process.stderr.write(`filled ${formatCount(KEYS)} keys in ${((performance.now() - fillStarted) / 1000).toFixed(1)} s\n`);

    const admin = new RedisClusterAdmin({ seeds: cluster.seeds });
    const newAddress = { host: newcomer.host, port: newcomer.port };
    const load = startLoad(store);
    try {
      const operations: [string, () => Promise<PreparedOperation>, number][] = [
        ['add-node (3 → 4 primaries)', () => admin.prepareAdd(newAddress), 0.3],
        ['remove-node (4 → 3 primaries)', () => admin.prepareRemove(`${newcomer!.host}:${newcomer!.port}`), 0.65],
      ];
      for (const [name, prepare, from] of operations) {
        progress.update(from, `${name}: baseline load`);
        load.mark();
        await new Promise((resolve) => setTimeout(resolve, BASELINE_MS));
        const baseline = load.mark();
        const keysBefore = await dbsize(newcomer);
        const prepared = await prepare();
        const started = performance.now();
        const result = await prepared.run((p) => progress.update(from + 0.35 * (p.plannedSlots ? p.movedSlots / p.plannedSlots : 0), `${name}: ${p.phase} ${formatCount(p.movedSlots)} / ${formatCount(p.plannedSlots)} slots`));
        const seconds = (performance.now() - started) / 1000;
        const during = load.mark();
        if (result.phase !== 'done') throw new Error(`${name} failed: ${result.error}`);
        const keysMoved = Math.abs((await dbsize(newcomer)) - keysBefore);
        const p = (phase: typeof during, q: number) => formatMs(percentile(phase.latenciesMs, q));
        const errors = [...during.errors].map(([reason, count]) => `${count} × ${reason}`).join('; ');
        rows.push({
          operation: name,
          'slots moved': formatCount(result.movedSlots),
          'keys moved': formatCount(keysMoved),
          duration: `${seconds.toFixed(1)} s`,
          'keys/s': formatCount(keysMoved / seconds),
          'requests during': formatCount(during.ok + during.failed),
          'failed requests': formatCount(during.failed) + (errors ? ` (${errors})` : ''),
          'p50 / p99 before': `${p(baseline, 0.5)} / ${p(baseline, 0.99)}`,
          'p50 / p99 during': `${p(during, 0.5)} / ${p(during, 0.99)}`,
          target: '0 failed requests',
          met: verdict(during.failed === 0 && baseline.failed === 0),
        });
      }
    } finally {
      await load.stop();
    }
    return rows;
  } finally {
    client?.disconnect();
    await newcomer?.stop();
    await cluster?.stop();
  }
}
