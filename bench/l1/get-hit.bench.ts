import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { formatCount, formatRatio, verdict } from '../lib/format.js';
import { measureOps } from '../lib/measure-ops.js';
import type { OpsSubject } from '../lib/measure-ops.js';
import { median } from '../lib/median.js';
import type { Progress } from '../lib/progress.js';
import type { Row } from '../lib/row.js';
import { startRedis } from '../../packages/freshcache-server/src/tools/local-redis.js';
import type { RedisServer } from '../../packages/freshcache-server/src/tools/local-redis.js';
import { getHitSubjects, LRU_BASELINE, N, NEEDS_REDIS } from './get-hit-subjects.js';
import type { GetHitReply, GetHitRequest } from './get-hit.worker.js';

const TARGET_OPS = 5_000_000;

/** A subject living in a worker thread; one request at a time, so a reply always answers the last request. */
async function startWorker(name: string, redisUrl: string | undefined): Promise<OpsSubject & { close: () => Promise<void> }> {
  // Node 20 does not apply `--import tsx` to workers: the worker registers tsx itself, then loads the .ts entry.
  const entry = new URL('./get-hit.worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  const worker = new Worker(boot, { eval: true, workerData: { name, redisUrl } });
  const ask = async (request: GetHitRequest | undefined): Promise<GetHitReply> => {
    if (request) worker.postMessage(request);
    const [reply] = (await once(worker, 'message')) as [GetHitReply];
    if ('error' in reply) throw new Error(`${name}: ${reply.error}`);
    return reply;
  };
  await ask(undefined);
  return {
    name,
    runFor: async (budgetMs) => {
      const reply = await ask({ run: budgetMs });
      if (!('ops' in reply)) throw new Error(`${name}: unexpected reply ${JSON.stringify(reply)}`);
      return reply;
    },
    close: async () => {
      await ask({ close: true });
      await worker.terminate();
    },
  };
}

/**
 * L1 get-hit: every library holds the same N keys and is read key by key, one awaited call at a
 * time (how application code calls a cache). Reports the median ops/s over the rounds.
 */
export async function getHit(progress: Progress): Promise<Row[]> {
  const names = Object.keys(getHitSubjects);
  let redis: RedisServer | undefined;
  let samples: Map<string, number[]>;
  try {
    // A redis-server of its own (free port, temp folder) for the subject that follows a Redis log.
    if (names.some((name) => NEEDS_REDIS.has(name))) redis = await startRedis();
    const subjects = [];
    for (const [i, name] of names.entries()) {
      progress.update((0.1 * i) / names.length, `filling ${formatCount(N)} keys: ${name}`);
      subjects.push(await startWorker(name, NEEDS_REDIS.has(name) ? redis?.url : undefined));
    }
    samples = await measureOps(subjects, {
      rounds: 8,
      roundMs: 200,
      warmupMs: 300,
      onProgress: (fraction, label) => progress.update(0.1 + 0.9 * fraction, label),
    });
    for (const subject of subjects) await subject.close();
  } finally {
    await redis?.stop();
  }

  const opsOf = (name: string) => median(samples.get(name) ?? []);
  const baseline = opsOf(LRU_BASELINE);
  return names.map((name) => {
    const ops = opsOf(name);
    const rounds = samples.get(name) ?? [];
    const isTarget = name === 'freshcache get' || NEEDS_REDIS.has(name);
    return {
      subject: name,
      'median ops/s': formatCount(ops),
      'min – max ops/s': `${formatCount(Math.min(...rounds))} – ${formatCount(Math.max(...rounds))}`,
      'vs lru-cache': formatRatio(ops / baseline),
      target: isTarget ? `≥ ${formatCount(TARGET_OPS)} ops/s` : '—',
      met: isTarget ? verdict(ops >= TARGET_OPS) : '',
    };
  });
}
