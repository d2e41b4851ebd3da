import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startRedis } from './local-redis.js';
import type { RedisServer } from './local-redis.js';

export interface RedisClusterOptions {
  /** Primaries, which share the 16,384 slots (default 3; redis-cli creates no cluster of fewer). */
  primaries?: number;
  /** Replicas of each primary (default 0). */
  replicas?: number;
  /** Redis's `cluster-node-timeout`: how long a primary may be silent before its replica takes over (default 2000 ms). */
  nodeTimeoutMs?: number;
  /** Append-only files, fsync on every write (see RedisServerOptions). */
  durable?: boolean;
  /** Each redis-server in a process group of its own (see RedisServerOptions). */
  detached?: boolean;
  /** Turns a cluster that never forms into a failure (default 30 s; forming takes about 2 s). */
  readyTimeoutMs?: number;
  /** Hears each server as soon as it runs, before the cluster forms (`up` hands it to its watchdog). */
  onNodeStarted?: (server: RedisServer) => void;
}

export interface RedisClusterNode {
  /** `redis-<port>`: a role changes with a failover, a port does not. */
  name: string;
  /** Its role when the cluster formed. */
  role: 'primary' | 'replica';
  /** A replica's primary (its name) when the cluster formed. */
  replicaOf: string | null;
  /** A primary's slot ranges when the cluster formed ([first, last], inclusive). */
  slots: [number, number][];
  server: RedisServer;
}

export interface LocalRedisCluster {
  /** Primaries first, each in the order of its slots, then the replicas. */
  nodes: RedisClusterNode[];
  /** Every node's host and port: the config's `redis: { cluster }`, and ioredis's Cluster seeds. */
  seeds: { host: string; port: number }[];
  /** Kills every node and deletes their folders. */
  stop(): Promise<void>;
}

const POLL_MS = 50;
const SLOTS = 16_384;

/**
 * A Redis Cluster of our own (tests, `freshcache up --redis cluster`): `primaries` redis-servers
 * with `replicas` replicas each, on free ports (and free bus ports) in temp folders, created by
 * `redis-cli --cluster create`, with `cluster-require-full-coverage no`. It resolves once every
 * node agrees that all slots are covered, each primary has its replicas, and every replica is in
 * sync with its primary.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<LocalRedisCluster> {
  const primaries = options.primaries ?? 3;
  const replicas = options.replicas ?? 0;
  if (!Number.isInteger(primaries) || primaries < 3) throw new Error(`a Redis Cluster needs at least 3 primaries, got ${primaries}`);
  if (!Number.isInteger(replicas) || replicas < 0) throw new Error(`replicas must be an integer of at least 0, got ${replicas}`);
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  await requireRedisCli();
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    // One after another (about 20 ms each): started together, two could pick each other's bus port.
    for (let i = 0; i < primaries * (1 + replicas); i++) servers.push(await startRedisClusterNode(options));
    const deadline = Date.now() + readyTimeoutMs;
    await redisCli(['--cluster', 'create', ...servers.map((s) => `${s.host}:${s.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], readyTimeoutMs);
    const shards = await waitForRedisCluster(servers, { primaries, replicas, deadline });
    return { nodes: describe(servers, shards), seeds: servers.map((s) => ({ host: s.host, port: s.port })), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * One more node for a cluster started with these options, with the same settings (cluster mode,
 * node timeout, durability, process group), not yet a member: `redis-cli --cluster add-node`
 * (RedisClusterAdmin.prepareAdd) joins it. `freshcache up` starts the primaries it adds this way.
 */
export async function startRedisClusterNode(options: RedisClusterOptions = {}): Promise<RedisServer> {
  const server = await startRedis({ cluster: true, clusterNodeTimeoutMs: options.nodeTimeoutMs, durable: options.durable, detached: options.detached });
  options.onNodeStarted?.(server);
  return server;
}

interface Shard {
  slots: number;
  ranges: [number, number][];
  firstSlot: number;
  nodes: { port: number; role: string; health: string }[];
}

/**
 * Polls each node until it says the cluster is whole: `cluster_state:ok`, every slot served by a
 * primary (CLUSTER SHARDS), each primary with its replicas all online, and each replica's link up
 * and not syncing (INFO replication). Forming a cluster sends no event, and waiting for external
 * servers is the one place a bounded poll is the right tool. Returns one node's CLUSTER SHARDS.
 */
export async function waitForRedisCluster(
  servers: readonly { host: string; port: number }[],
  expected: { primaries: number; replicas: number; deadline: number },
): Promise<Shard[]> {
  const clients = servers.map((s) => {
    const client = new Redis(s.port, s.host, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
    client.on('error', () => {});
    return client;
  });
  try {
    await Promise.all(clients.map((client) => client.connect()));
    let problem = 'not asked yet';
    while (Date.now() < expected.deadline) {
      problem = (await Promise.all(clients.map((client, i) => problemOf(client, servers[i]!.port, expected)))).find((p) => p !== undefined) ?? '';
      if (problem === '') return shardsOf(await clients[0]!.call('CLUSTER', 'SHARDS'));
      await delay(POLL_MS);
    }
    throw new Error(`the Redis Cluster (${servers.map((s) => s.port).join(', ')}) did not form in time: ${problem}`);
  } finally {
    for (const client of clients) client.disconnect();
  }
}

/** What this node says is still missing, or undefined once it sees the whole cluster. */
async function problemOf(client: Redis, port: number, expected: { primaries: number; replicas: number }): Promise<string | undefined> {
  const info = String(await client.call('CLUSTER', 'INFO'));
  if (!info.includes('cluster_state:ok')) return `node ${port}: not cluster_state:ok`;
  const shards = shardsOf(await client.call('CLUSTER', 'SHARDS')).filter((shard) => shard.slots > 0);
  const covered = shards.reduce((sum, shard) => sum + shard.slots, 0);
  if (covered !== SLOTS) return `node ${port} sees ${covered} of ${SLOTS} slots served`;
  if (shards.length !== expected.primaries) return `node ${port} sees ${shards.length} primaries with slots, not ${expected.primaries}`;
  for (const shard of shards) {
    const replicas = shard.nodes.filter((n) => n.role !== 'master');
    if (replicas.length !== expected.replicas) return `node ${port} sees ${replicas.length} replicas of slot ${shard.firstSlot}'s primary`;
    // Not "online" alone: Redis 7.0 calls a replica "loading" until its replication offset moves
    // off 0, which on an idle primary takes its first ping (repl-ping-replica-period, 10 s). Each
    // replica's own INFO (below) says whether it is in sync.
    const unwell = shard.nodes.find((n) => n.health === 'fail');
    if (unwell) return `node ${port} sees node ${unwell.port} failed`;
  }
  const replication = String(await client.info('replication'));
  if (replication.includes('role:slave') && !(replication.includes('master_link_status:up') && replication.includes('master_sync_in_progress:0'))) {
    return `replica ${port} is not in sync with its primary yet`;
  }
  return undefined;
}

/** CLUSTER SHARDS answers flat lists of name, value pairs. */
function shardsOf(reply: unknown): Shard[] {
  return (reply as unknown[][]).map((shard) => {
    const fields = pairs(shard);
    const ranges = ((fields.slots as unknown[]) ?? []).map(Number);
    const pairsOfRanges: [number, number][] = [];
    for (let i = 0; i + 1 < ranges.length; i += 2) pairsOfRanges.push([ranges[i]!, ranges[i + 1]!]);
    const slots = pairsOfRanges.reduce((sum, [first, last]) => sum + last - first + 1, 0);
    const nodes = ((fields.nodes as unknown[][]) ?? []).map(pairs).map((n) => ({ port: Number(n.port), role: String(n.role), health: String(n.health) }));
    return { slots, ranges: pairsOfRanges, firstSlot: ranges[0] ?? -1, nodes };
  });
}

function pairs(list: unknown[]): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) object[String(list[i])] = list[i + 1];
  return object;
}

/** Names and roles from the formed cluster's shards (redis-cli, not us, picked who replicates whom). */
function describe(servers: RedisServer[], shards: Shard[]): RedisClusterNode[] {
  const byPort = new Map(servers.map((s) => [s.port, s]));
  const name = (port: number) => `redis-${port}`;
  const ordered = shards.filter((shard) => shard.slots > 0).sort((a, b) => a.firstSlot - b.firstSlot);
  const nodes: RedisClusterNode[] = [];
  for (const shard of ordered) {
    const primary = shard.nodes.find((n) => n.role === 'master')!;
    nodes.push({ name: name(primary.port), role: 'primary', replicaOf: null, slots: shard.ranges, server: byPort.get(primary.port)! });
  }
  for (const shard of ordered) {
    const primary = shard.nodes.find((n) => n.role === 'master')!;
    for (const replica of shard.nodes.filter((n) => n.role !== 'master')) {
      nodes.push({ name: name(replica.port), role: 'replica', replicaOf: name(primary.port), slots: [], server: byPort.get(replica.port)! });
    }
  }
  return nodes;
}

async function requireRedisCli(): Promise<void> {
  try {
    await redisCli(['--version'], 10_000);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('redis-cli not found: it is in the redis-tools package (apt-get install -y redis-tools)', { cause: error });
    }
    throw error;
  }
}

function redisCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(guard);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(guard);
      if (code === 0) resolve(output);
      else reject(new Error(`redis-cli ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output}`));
    });
  });
}
