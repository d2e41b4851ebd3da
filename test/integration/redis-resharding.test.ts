import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Cluster } from 'ioredis';
import { createRedisConnection, RedisStore } from 'freshcache/redis';
import type { Entry } from 'freshcache';
import { RedisClusterAdmin } from '../../packages/freshcache-server/src/topology/redis-cluster-admin.js';
import type { RebalanceProgress } from '../../packages/freshcache-server/src/topology/redis-cluster-admin.js';
import { startRedisCluster } from '../testkit/redis-cluster.js';
import type { RedisCluster } from '../testkit/redis-cluster.js';
import { startRedis } from '../testkit/redis-server.js';
import type { RedisServer } from '../testkit/redis-server.js';

/**
 * Resharding a real Redis Cluster (three primaries with a replica each, and a fourth primary that
 * joins) while a shared L2
 * (RedisStore, on freshcache's own Cluster connection, which follows MOVED and ASK) is read and
 * written: adding a primary and removing one move thousands of keys, and no request fails, no
 * read goes back to an older value than one already acknowledged, and every key ends with its
 * last written value.
 */
const KEYS = 2_000;
const WRITERS = 8;
const READERS = 8;

let cluster: RedisCluster;
let newcomer: RedisServer;
let client: Cluster;
let store: RedisStore;

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: 1 });
  newcomer = await startRedis({ cluster: true });
  client = createRedisConnection({ cluster: cluster.nodes });
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
  store = new RedisStore({ redis: client, prefix: 'reshard:' });
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await newcomer?.stop();
  await cluster?.stop();
});

const key = (i: number) => `item:${i}`;

function entry(version: number): Entry {
  const now = Date.now();
  return { value: { version }, version, tags: [], createdAt: now, expiresAt: now + 3_600_000, staleAt: now + 3_600_000, size: 16, generation: 0 };
}

/**
 * Writers own disjoint keys and write each one's versions in order; readers read random keys and
 * check each answer against the version acknowledged before the read was sent (never older).
 */
function startLoad() {
  const acknowledged = new Int32Array(KEYS);
  const failures: string[] = [];
  const stale: string[] = [];
  let reads = 0;
  let writes = 0;
  let running = true;
  const writer = async (w: number) => {
    for (let round = 1; running; round++) {
      for (let i = w; i < KEYS && running; i += WRITERS) {
        try {
          await store.set(key(i), entry(round));
          acknowledged[i] = round;
          writes++;
        } catch (error) {
          failures.push(`set ${key(i)}: ${(error as Error).message}`);
        }
      }
    }
  };
  const reader = async (r: number) => {
    for (let n = r; running; n += 7919) {
      const i = n % KEYS;
      const floor = acknowledged[i]!;
      try {
        const found = await store.get(key(i));
        reads++;
        if ((found?.version ?? 0) < floor) stale.push(`${key(i)}: read version ${found?.version} after ${floor} was acknowledged`);
      } catch (error) {
        failures.push(`get ${key(i)}: ${(error as Error).message}`);
      }
    }
  };
  const done = Promise.all([...Array.from({ length: WRITERS }, (_, w) => writer(w)), ...Array.from({ length: READERS }, (_, r) => reader(r))]);
  return {
    acknowledged,
    failures,
    stale,
    counts: () => ({ reads, writes }),
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe('resharding a Redis Cluster under load', () => {
  it('adds a primary and removes one with zero failed requests, and every key keeps its latest value', async () => {
    const admin = new RedisClusterAdmin({ seeds: cluster.nodes });
    // Every key exists before the first move, so the moves carry data.
    for (let i = 0; i < KEYS; i++) await store.set(key(i), entry(0));
    const load = startLoad();
    // A failed assertion must not leave the load running against a cluster being stopped.
    onTestFinished(() => load.stop());

    // While slots move, the load must actually be running: the counts taken at the first and the
    // last progress report show requests answered in between.
    const run = async (prepared: Awaited<ReturnType<RedisClusterAdmin['prepareAdd']>>) => {
      const seen: RebalanceProgress[] = [];
      let atFirstMove: { reads: number; writes: number } | undefined;
      const result = await prepared.run((progress) => {
        if (progress.movedSlots > 0 && !atFirstMove) atFirstMove = load.counts();
        seen.push(progress);
      });
      return { result, seen, during: { reads: load.counts().reads - (atFirstMove?.reads ?? Infinity), writes: load.counts().writes - (atFirstMove?.writes ?? Infinity) } };
    };

    const add = await admin.prepareAdd({ host: newcomer.host, port: newcomer.port });
    expect(add.plannedSlots).toBe(4_096);
    const added = await run(add);
    expect(added.result).toMatchObject({ phase: 'done', error: null, movedSlots: 4_096 });
    expect(added.during.reads).toBeGreaterThan(0);
    expect(added.during.writes).toBeGreaterThan(0);
    const moved = added.seen.map((p) => p.movedSlots);
    expect(moved).toEqual([...moved].sort((a, b) => a - b));
    expect(added.seen.some((p) => p.phase === 'moving' && p.movedSlots > 0 && p.movedSlots < 4_096)).toBe(true);
    const afterAdd = await admin.nodes();
    expect(afterAdd.find((n) => n.address === `${newcomer.host}:${newcomer.port}`)).toMatchObject({ role: 'master', slots: 4_096 });
    // Its share of the keys went with the slots.
    expect(await client.nodes('master').find((n) => n.options.port === newcomer.port)!.dbsize()).toBeGreaterThan(KEYS / 8);

    const leaving = afterAdd.find((n) => n.address === `${cluster.nodes[0]!.host}:${cluster.nodes[0]!.port}`)!;
    const itsReplica = afterAdd.find((n) => n.masterId === leaving.id)!;
    const remove = await admin.prepareRemove(leaving.id);
    expect(remove.plannedSlots).toBe(leaving.slots);
    const removed = await run(remove);
    expect(removed.result).toMatchObject({ phase: 'done', error: null, movedSlots: leaving.slots });
    expect(removed.during.reads).toBeGreaterThan(0);
    const afterRemove = await admin.nodes();
    expect(afterRemove.map((n) => n.id)).not.toContain(leaving.id);
    expect(afterRemove.reduce((sum, n) => sum + n.slots, 0)).toBe(16_384);
    // Its replica stays in the cluster, serving a primary that remains.
    const replicaAfter = afterRemove.find((n) => n.id === itsReplica.id);
    expect(replicaAfter).toMatchObject({ role: 'replica' });
    expect(afterRemove.find((n) => n.id === replicaAfter!.masterId)).toMatchObject({ role: 'master' });

    await load.stop();
    expect(load.failures).toEqual([]);
    expect(load.stale).toEqual([]);
    // Nothing lost, nothing older than its last acknowledged write.
    const lost: string[] = [];
    for (let i = 0; i < KEYS; i++) {
      const found = await store.get(key(i));
      if (found?.version !== load.acknowledged[i]) lost.push(`${key(i)}: ${found?.version} instead of ${load.acknowledged[i]}`);
    }
    expect(lost).toEqual([]);
  }, 90_000);

  it('refuses bad requests before anything moves', async () => {
    const admin = new RedisClusterAdmin({ seeds: cluster.nodes.slice(1) });
    const nodes = await admin.nodes();
    const member = nodes.find((n) => n.role === 'master')!;
    await expect(admin.prepareRemove('no-such-node')).rejects.toMatchObject({ code: 'not_found' });
    await expect(admin.prepareAdd({ host: '127.0.0.1', port: Number(member.address.split(':')[1]) })).rejects.toMatchObject({ code: 'conflict' });
    const standalone = await startRedis();
    try {
      await expect(new RedisClusterAdmin({ seeds: [{ host: standalone.host, port: standalone.port }] }).prepareRebalance()).rejects.toMatchObject({ code: 'bad_request' });
      await expect(admin.prepareAdd({ host: standalone.host, port: standalone.port })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringContaining('cluster mode') });
    } finally {
      await standalone.stop();
    }
  });
});
