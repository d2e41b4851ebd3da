import type { Redis } from 'ioredis';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { createRedisConnection } from '../../packages/freshcache/src/adapters/redis/redis-connection.js';
import { slotKey } from '../../packages/freshcache/src/adapters/redis/redis-keys.js';
import { RedisStore } from '../../packages/freshcache/src/adapters/redis/redis-store.js';
import { BreakerStore } from '../../packages/freshcache/src/adapters/resilience/breaker-store.js';
import { CircuitBreaker } from '../../packages/freshcache/src/adapters/resilience/circuit-breaker.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';
import type { Store } from '../../packages/freshcache/src/seams/store.js';
import { startRedis } from '../../packages/freshcache-server/src/tools/local-redis.js';
import { runConcurrent } from '../lib/concurrent-ops.js';
import { formatCount, formatRatio, verdict } from '../lib/format.js';
import { measureOps } from '../lib/measure-ops.js';
import type { OpsSubject } from '../lib/measure-ops.js';
import { median } from '../lib/median.js';
import type { Progress } from '../lib/progress.js';
import type { Row } from '../lib/row.js';

export const N = 10_000;
export const CONCURRENCY = 50;
const PREFIX = 'bench:l2:';
const ROUNDS = 8;
const ROUND_MS = 1_000;
const WARMUP_MS = 1_000;
const TARGET_RATIO = 0.8;

const RAW = 'raw ioredis GET (same Redis keys)';
const RAW_PARSE = 'raw ioredis GET + JSON.parse';
const STORE = 'RedisStore.get alone (no engine)';
const ENGINE = 'freshcache get → L2 RedisStore';
const ENGINE_NO_TIMER = 'freshcache get → L2 BreakerStore, callTimeoutMs: Infinity (no per-call timer; not a deployed setting)';
const ENGINE_BREAKER = 'freshcache get → L2 BreakerStore(RedisStore) (as deployed)';

const keys = Array.from({ length: N }, (_, i) => `user:${i}`);
const values = keys.map((key, i) => ({ id: i, key, name: `User ${i}`, teamId: i % 100 }));

/** CPU time redis-server has used so far (user + system), from INFO. */
async function redisCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

/**
 * A cache whose L1 holds one entry: every `get` misses L1 and reads L2. The L2 hit then promotes
 * the entry into L1, evicting the one before, which is what an L2 hit costs in a node whose L1 is
 * full; nothing outside the engine touches L1 between reads.
 */
function engine(l2: Store): TieredCache {
  return new TieredCache({ name: 'bench', l1: new MemoryStore({ name: 'l1', maxEntries: 1 }), l2 });
}

/** Reads the keys in turn, CONCURRENCY at a time; each subject keeps its own position across rounds. */
function subject(name: string, read: (i: number) => Promise<boolean>): OpsSubject {
  let cursor = 0;
  return {
    name,
    runFor: (budgetMs) =>
      runConcurrent(
        async () => {
          const i = cursor++ % N;
          if (!(await read(i))) throw new Error(`${name}: ${keys[i]} was not a hit; every read must be a hit`);
        },
        CONCURRENCY,
        budgetMs,
      ),
  };
}

/**
 * L2 get hit on a real redis-server: the engine (L1 out of the way) against raw ioredis GETs of
 * the same Redis keys, on the same connection, with the same number of requests in flight,
 * subjects taking turns round by round.
 */
export async function redisGetHit(progress: Progress): Promise<Row[]> {
  progress.update(0, 'starting redis-server');
  const server = await startRedis();
  let redis: Redis | undefined;
  try {
    redis = createRedisConnection({ url: server.url, onError: (error) => process.stderr.write(`redis connection error: ${error.message}\n`) });
    const connection = redis;
    const store = new RedisStore({ redis: connection, prefix: PREFIX, name: 'redis' });
    const breakerChanges: string[] = [];
    const guard = (breaker: CircuitBreaker) => {
      breaker.onStateChange((change) => breakerChanges.push(`${breaker.name}: ${change.from} → ${change.to}`));
      return new BreakerStore({ store, breaker, onError: (error) => process.stderr.write(`breaker store hid: ${String(error)}\n`) });
    };
    const plain = engine(store);
    // The breaker build-parts.ts gives each region: defaults, so a 500 ms call timeout.
    const guarded = engine(guard(new CircuitBreaker({ name: 'l2:bench' })));
    // The same with no time bound: CircuitBreaker then arms no timer per call. Shows what the timer costs.
    const untimed = engine(guard(new CircuitBreaker({ name: 'l2:bench-untimed', callTimeoutMs: Number.POSITIVE_INFINITY })));

    for (let i = 0; i < N; i++) {
      await plain.set(keys[i]!, values[i]);
      if (i % 1000 === 0) progress.update(0.05 * (i / N), `filling ${formatCount(N)} keys through TieredCache.set`);
    }
    const redisKeys = keys.map((key) => slotKey(PREFIX, key));
    const stored = await connection.dbsize();
    if (stored !== N) throw new Error(`Redis holds ${stored} keys after the fill, expected ${N}`);

    const engines = [
      { name: ENGINE, cache: plain },
      { name: ENGINE_NO_TIMER, cache: untimed },
      { name: ENGINE_BREAKER, cache: guarded },
    ].map((e) => ({ ...e, before: { ...e.cache.stats } }));
    // A ladder, each step adding one layer to the one before: the differences are what each layer costs.
    const subjects = [
      subject(RAW, async (i) => (await connection.get(redisKeys[i]!)) !== null),
      subject(RAW_PARSE, async (i) => {
        const json = await connection.get(redisKeys[i]!);
        return json !== null && (JSON.parse(json) as { value?: unknown }).value !== undefined;
      }),
      subject(STORE, async (i) => (await store.get(keys[i]!)) !== undefined),
      ...engines.map(({ name, cache }) => subject(name, async (i) => (await cache.get(keys[i]!)) !== undefined)),
    ];
    // Reads and CPU time (this process, and redis-server by its INFO) over the measured rounds and warm-up.
    const totals = new Map(subjects.map((s) => [s.name, { reads: 0, userUs: 0, systemUs: 0, redisCpuUs: 0 }]));
    const counted = subjects.map((s): OpsSubject => ({
      name: s.name,
      runFor: async (budgetMs) => {
        const redisBefore = await redisCpuUs(connection);
        const cpuBefore = process.cpuUsage();
        const result = await s.runFor(budgetMs);
        const cpu = process.cpuUsage(cpuBefore);
        const total = totals.get(s.name)!;
        total.reads += result.ops;
        total.userUs += cpu.user;
        total.systemUs += cpu.system;
        total.redisCpuUs += (await redisCpuUs(connection)) - redisBefore;
        return result;
      },
    }));
    const samples = await measureOps(counted, {
      rounds: ROUNDS,
      roundMs: ROUND_MS,
      warmupMs: WARMUP_MS,
      onProgress: (fraction, label) => progress.update(0.05 + 0.95 * fraction, label),
    });

    // Every engine read must have been an L2 hit: no L1 hit, no miss, nothing served stale.
    for (const { name, cache, before: stats } of engines) {
      const l2Hits = cache.stats.l2Hits - stats.l2Hits;
      const other = cache.stats.l1Hits - stats.l1Hits + (cache.stats.misses - stats.misses) + (cache.stats.staleServed - stats.staleServed);
      if (l2Hits !== totals.get(name)!.reads || other !== 0) {
        throw new Error(`${name}: ${l2Hits} L2 hits and ${other} other outcomes for ${totals.get(name)!.reads} reads`);
      }
    }
    if (breakerChanges.length > 0) throw new Error(`the circuit breaker changed state during the run (${breakerChanges.join(', ')}): the numbers are not L2 hits`);

    const opsOf = (name: string) => median(samples.get(name) ?? []);
    const raw = opsOf(RAW);
    const rawParse = opsOf(RAW_PARSE);
    return subjects.map(({ name }) => {
      const ops = opsOf(name);
      const rounds = samples.get(name) ?? [];
      const isTarget = name === ENGINE || name === ENGINE_BREAKER;
      const isEngine = engines.some((e) => e.name === name);
      const total = totals.get(name)!;
      return {
        subject: name,
        'median ops/s': formatCount(ops),
        'min – max ops/s': `${formatCount(Math.min(...rounds))} – ${formatCount(Math.max(...rounds))}`,
        // Little's law: with CONCURRENCY requests always in flight, the mean time each one took.
        'mean latency': `${((CONCURRENCY / ops) * 1e6).toFixed(0)} µs`,
        'node CPU per read (user + sys)': `${((total.userUs + total.systemUs) / total.reads).toFixed(1)} µs (${(total.userUs / total.reads).toFixed(1)} + ${(total.systemUs / total.reads).toFixed(1)})`,
        'redis-server CPU per read': `${(total.redisCpuUs / total.reads).toFixed(1)} µs`,
        'reads (warm-up + rounds)': `${formatCount(total.reads)}${isEngine ? ', all L2 hits' : ', all found'}`,
        'vs raw GET': formatRatio(ops / raw),
        'vs raw GET + parse': formatRatio(ops / rawParse),
        target: isTarget ? `≥ ${formatRatio(TARGET_RATIO)} of raw GET` : '—',
        met: isTarget ? verdict(ops / raw >= TARGET_RATIO) : '',
      };
    });
  } finally {
    redis?.disconnect();
    await server.stop();
  }
}
