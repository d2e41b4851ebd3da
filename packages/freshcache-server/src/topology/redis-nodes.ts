import { Redis } from 'ioredis';
import type { RedisTarget } from '../config.js';

/** A Redis server of the deployment, as `GET /api/nodes` shows it. */
export interface RedisNodeView {
  kind: 'redis';
  /** The cluster's node id; `host:port` for a standalone server. */
  id: string;
  address: string;
  role: 'master' | 'replica';
  /** The master's id for a replica (cluster); null otherwise. */
  masterId: string | null;
  /** Slot ranges a master serves, `[first, last]`; empty for a replica or a standalone server. */
  slots: [number, number][];
  /** `online`, `failed`, `loading` (cluster health), or `unreachable` (INFO got no answer). */
  health: string;
  replicationOffset: number | null;
  keys: number | null;
  memoryBytes: number | null;
  opsPerSec: number | null;
}

/** How long one node may take to answer before it is shown unreachable: a listing must not hang on a dead node. */
const ASK_TIMEOUT_MS = 1_000;

/**
 * The Redis servers behind `targets` (the log's and the L2's): the layout, roles, replication
 * offsets and health from `CLUSTER SHARDS`, and keys, memory and ops/s from `INFO` on each node.
 * A standalone server (it rejects CLUSTER) is one node. Each call opens short-lived connections,
 * so a listing sees nodes that joined since, and never holds a connection to a dead one.
 */
export async function describeRedisNodes(targets: readonly RedisTarget[]): Promise<RedisNodeView[]> {
  const seeds = new Map<string, Seed>();
  for (const target of targets) {
    for (const seed of 'url' in target ? [fromUrl(target.url)] : target.cluster) seeds.set(`${seed.host}:${seed.port}`, seed);
  }
  const found = new Map<string, RedisNodeView>();
  for (const seed of seeds.values()) {
    if ([...found.values()].some((node) => node.address === `${seed.host}:${seed.port}`)) continue;
    for (const node of await describeFrom(seed)) if (!found.has(node.id)) found.set(node.id, node);
  }
  return [...found.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** Where to ask; `url` when the target gave one, so its credentials and TLS are used. */
type Seed = { host: string; port: number; url?: string };

async function describeFrom(seed: Seed): Promise<RedisNodeView[]> {
  const address = `${seed.host}:${seed.port}`;
  let shards: unknown;
  try {
    shards = await ask(seed, ['CLUSTER', 'SHARDS']);
  } catch (error) {
    // A standalone server answers "cluster support disabled": it is one node of its own.
    if (error instanceof Error && /cluster support disabled/i.test(error.message)) return [await withInfo(standalone(address), seed)];
    return [{ ...standalone(address), health: 'unreachable' }];
  }
  const nodes: RedisNodeView[] = [];
  for (const shard of shards as unknown[][]) {
    const fields = pairs(shard);
    const slots = (fields.slots as (number | string)[]) ?? [];
    const ranges: [number, number][] = [];
    for (let i = 0; i + 1 < slots.length; i += 2) ranges.push([Number(slots[i]), Number(slots[i + 1])]);
    const members = ((fields.nodes as unknown[][]) ?? []).map(pairs);
    const master = members.find((m) => m.role === 'master');
    for (const member of members) {
      const host = String(member.ip ?? member.endpoint ?? seed.host);
      const port = Number(member.port ?? member['tls-port']);
      const role = member.role === 'master' ? 'master' : 'replica';
      const view: RedisNodeView = {
        kind: 'redis',
        id: String(member.id),
        address: `${host}:${port}`,
        role,
        masterId: role === 'replica' && master ? String(master.id) : null,
        slots: role === 'master' ? ranges : [],
        health: String(member.health ?? 'online'),
        replicationOffset: member['replication-offset'] === undefined ? null : Number(member['replication-offset']),
        keys: null,
        memoryBytes: null,
        opsPerSec: null,
      };
      nodes.push(view.health === 'failed' ? view : await withInfo(view, { host, port }));
    }
  }
  return nodes;
}

function standalone(address: string): RedisNodeView {
  return { kind: 'redis', id: address, address, role: 'master', masterId: null, slots: [], health: 'online', replicationOffset: null, keys: null, memoryBytes: null, opsPerSec: null };
}

/** Adds what INFO says of the node; a node that does not answer is shown unreachable. */
async function withInfo(view: RedisNodeView, at: { host: string; port: number }): Promise<RedisNodeView> {
  let text: string;
  try {
    text = String(await ask(at, ['INFO']));
  } catch {
    return { ...view, health: 'unreachable' };
  }
  const info = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) info.set(line.slice(0, at), line.slice(at + 1));
  }
  let keys = 0;
  for (const [name, value] of info) if (/^db\d+$/.test(name)) keys += Number(/keys=(\d+)/.exec(value)?.[1] ?? 0);
  const number = (name: string) => (info.has(name) ? Number(info.get(name)) : null);
  const role = info.get('role') === 'slave' ? 'replica' : info.get('role') === 'master' ? 'master' : view.role;
  // Redis 7.0's CLUSTER SHARDS calls a replica "loading" until its replication offset moves off 0,
  // which on an idle primary takes its first ping (10 s): its own INFO says whether it is in sync.
  const inSync = role === 'replica' && info.get('master_link_status') === 'up' && info.get('master_sync_in_progress') === '0';
  return {
    ...view,
    role,
    health: info.get('loading') === '1' ? 'loading' : view.health === 'loading' && inSync ? 'online' : view.health,
    replicationOffset: view.replicationOffset ?? number('master_repl_offset'),
    keys,
    memoryBytes: number('used_memory'),
    opsPerSec: number('instantaneous_ops_per_sec'),
  };
}

/** One command on a connection of its own, bounded in time. */
async function ask(at: Seed, command: [string, ...string[]]): Promise<unknown> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: ASK_TIMEOUT_MS, commandTimeout: ASK_TIMEOUT_MS, retryStrategy: () => null };
  const client = at.url ? new Redis(at.url, options) : new Redis(at.port, at.host, options);
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(...command);
  } finally {
    client.disconnect();
  }
}

/** CLUSTER SHARDS answers flat lists of name, value: as an object. */
function pairs(list: unknown[]): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) object[String(list[i])] = list[i + 1];
  return object;
}

function fromUrl(url: string): Seed {
  const parsed = new URL(url);
  return { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379), url };
}
