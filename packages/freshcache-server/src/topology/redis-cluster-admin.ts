import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { FreshcacheError } from 'freshcache';
import { Redis } from 'ioredis';

/** A Redis server, `host:port`. */
export interface RedisAddress {
  host: string;
  port: number;
}

/** A node of the cluster as CLUSTER NODES describes it. */
export interface ClusterNodeEntry {
  id: string;
  address: string;
  role: 'master' | 'replica';
  masterId: string | null;
  /** How many slots it serves (masters). */
  slots: number;
  /** The slot ranges it serves, `[first, last]` (open slots, migrating or importing, left out). */
  ranges: [number, number][];
  /** Its config epoch: a promotion takes one above every epoch the cluster had. */
  epoch: number;
  /** Marked failed (fail or fail?), or not yet through its handshake. */
  unhealthy: boolean;
  /** Not yet through its handshake: the others do not know it yet. */
  handshake: boolean;
  /** The node that answered CLUSTER NODES. */
  myself: boolean;
}

export type ClusterOperation = 'add-node' | 'remove-node' | 'rebalance';

/** Where a running operation stands: what `GET /api/rebalance` and the CLI's bar show. */
export interface RebalanceProgress {
  operation: ClusterOperation;
  /** The node added or removed (`host:port`); null for a rebalance. */
  node: string | null;
  phase: 'joining' | 'moving' | 'forgetting' | 'done' | 'failed';
  /** Slots moved so far, each one with all its keys. */
  movedSlots: number;
  /** Slots the rebalance is expected to move (redis-cli's own arithmetic, corrected as it announces its moves). */
  plannedSlots: number;
  /** The moves redis-cli announced so far: `from` and `to` are `host:port`. */
  moves: { from: string; to: string; slots: number }[];
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
}

/** An operation whose input was checked against the cluster: `run` carries it out. */
export interface PreparedOperation {
  readonly operation: ClusterOperation;
  readonly node: string | null;
  readonly plannedSlots: number;
  run(onProgress?: (progress: RebalanceProgress) => void): Promise<RebalanceProgress>;
}

export interface RedisClusterAdminOptions {
  /** Nodes of the cluster (one is enough): the admin asks the first that answers, and finds the others through it. */
  seeds: readonly RedisAddress[];
  /** The redis-cli binary (default `redis-cli` on the PATH; Debian's redis-tools). */
  redisCli?: string;
  /** Keys per MIGRATE call (redis-cli's --cluster-pipeline, default 10): larger moves faster and blocks both nodes longer. */
  keysPerMigrate?: number;
  /** How long a joining node may take to be known by every node (gossip), default 20 s. */
  joinTimeoutMs?: number;
}

const SLOTS = 16_384;
const POLL_MS = 100;
/** One admin command to one node: a node that does not answer within this is unreachable, not waited on. */
const ASK_TIMEOUT_MS = 2_000;

/**
 * Adds, removes and rebalances the primaries of a Redis Cluster with Redis's own migration.
 *
 * The slots move through `redis-cli --cluster`, driven as a subprocess, rather than a loop of our
 * own around CLUSTER SETSLOT IMPORTING/MIGRATING and MIGRATE: redis-cli is the tool Redis ships
 * and operators already trust, it orders the SETSLOT NODE calls so that no key is ever unowned,
 * handles keys in batches, replicas and functions, refuses to start on a cluster with open slots,
 * and `redis-cli --cluster fix` repairs a run that was cut short. Its progress is machine-readable
 * enough: "Moving N slots from A to B" per pair of nodes and one `#` per slot moved, flushed as
 * each slot completes. What is ours: checking the input against the cluster first (so a bad
 * request fails before anything moves), waiting for gossip between steps, and the progress.
 */
export class RedisClusterAdmin {
  private readonly seeds: readonly RedisAddress[];
  private readonly redisCli: string;
  private readonly keysPerMigrate: number;
  private readonly joinTimeoutMs: number;

  constructor(options: RedisClusterAdminOptions) {
    if (options.seeds.length === 0) throw new FreshcacheError('bad_request', 'a Redis Cluster admin needs at least one seed node');
    this.seeds = options.seeds;
    this.redisCli = options.redisCli ?? 'redis-cli';
    this.keysPerMigrate = options.keysPerMigrate ?? 10;
    this.joinTimeoutMs = options.joinTimeoutMs ?? 20_000;
  }

  /** The cluster's nodes, as the first seed that answers sees them. */
  async nodes(): Promise<ClusterNodeEntry[]> {
    return parseClusterNodes((await this.layout()).text).nodes;
  }

  /**
   * CLUSTER NODES from the first seed that answers as a member of a cluster that serves slots (a
   * node removed earlier answers too, alone and empty), and that seed.
   */
  private async layout(): Promise<{ text: string; entry: RedisAddress }> {
    let failure = '';
    for (const seed of this.seeds) {
      try {
        const text = String(await ask(seed, ['CLUSTER', 'NODES']));
        if (parseClusterNodes(text).nodes.some((n) => n.slots > 0)) return { text, entry: seed };
        failure = `${show(seed)} serves no slot and knows no node that does`;
      } catch (error) {
        if (error instanceof Error && /cluster support disabled/i.test(error.message)) {
          throw new FreshcacheError('bad_request', `Redis at ${show(seed)} is not a Redis Cluster: slots can only be moved in a cluster`);
        }
        failure = `${show(seed)} does not answer (${(error as Error).message})`;
      }
    }
    throw new FreshcacheError('store_unavailable', `no node of the Redis Cluster answers: ${failure}`);
  }

  /**
   * Adds `address` (a running, empty, cluster-enabled redis-server) as a primary and moves its
   * share of the slots onto it. Checked now: the seed is a healthy cluster with no resharding
   * under way, and the address answers, is in cluster mode, holds no key and is not a member yet.
   */
  async prepareAdd(address: RedisAddress): Promise<PreparedOperation> {
    const { nodes, entry } = await this.healthyLayout();
    const node = show(address);
    if (nodes.some((n) => n.address === node)) throw new FreshcacheError('conflict', `${node} is already a node of the cluster`);
    let info: string;
    try {
      info = String(await ask(address, ['INFO', 'keyspace'])) + String(await ask(address, ['CLUSTER', 'INFO']));
    } catch (error) {
      const cause = (error as Error).message;
      if (/cluster support disabled/i.test(cause)) throw new FreshcacheError('bad_request', `${node} does not run in cluster mode (start it with --cluster-enabled yes)`);
      throw new FreshcacheError('bad_request', `${node} does not answer (${cause}): start the new redis-server first`);
    }
    if (/^db\d+:keys=[1-9]/m.test(info)) throw new FreshcacheError('bad_request', `${node} holds keys: a node joins the cluster empty`);
    if (!/cluster_known_nodes:1\r?\n/.test(info)) throw new FreshcacheError('bad_request', `${node} already knows other cluster nodes: it may belong to another cluster`);
    const masters = nodes.filter((n) => n.role === 'master' && n.slots > 0).map((n) => ({ slots: n.slots, weight: 1 }));
    const plannedSlots = plannedMoves([...masters, { slots: 0, weight: 1 }]);
    return this.prepared('add-node', node, plannedSlots, async (progress, tell) => {
      progress.phase = 'joining';
      tell();
      await this.cli(['--cluster', 'add-node', node, show(entry)]);
      const id = String(await ask(address, ['CLUSTER', 'MYID']));
      await this.untilAllAgree((all) => all.every((view) => view.some((n) => n.id === id && !n.unhealthy)), entry);
      progress.phase = 'moving';
      await this.moveSlots(entry, ['--cluster-use-empty-masters'], progress, tell);
    });
  }

  /**
   * Moves every slot of the primary `ref` (its node id or `host:port`) to the other primaries,
   * then has every node forget it (and its replicas, which Redis has moved to the primary that
   * took its last slot, are re-attached first if they are still its). The removed server keeps
   * running, empty, alone and with a new node id: stopping it is its owner's business.
   */
  async prepareRemove(ref: string): Promise<PreparedOperation> {
    const { nodes } = await this.healthyLayout();
    const target = nodes.find((n) => n.id === ref || n.address === ref);
    if (!target) throw new FreshcacheError('not_found', `no node ${ref} in the cluster (give its node id or host:port)`);
    if (target.role !== 'master') throw new FreshcacheError('bad_request', `${target.address} is a replica: remove-node takes a primary`);
    const others = nodes.filter((n) => n.role === 'master' && n.id !== target.id);
    if (others.length === 0) throw new FreshcacheError('bad_request', `${target.address} is the only primary: its slots have nowhere to go`);
    const plannedSlots = target.slots;
    return this.prepared('remove-node', target.address, plannedSlots, async (progress, tell) => {
      // Talk to the cluster through a node that stays, so the run survives the removal.
      const through = parseAddress(others[0]!.address);
      progress.phase = 'moving';
      if (target.slots > 0) {
        // Weight 0 drains the node; --cluster-use-empty-masters lets the moved slots land on a primary that has none yet.
        await this.moveSlots(through, ['--cluster-weight', `${target.id}=0`, '--cluster-use-empty-masters'], progress, tell);
      }
      progress.phase = 'forgetting';
      tell();
      // Redis itself moves the replicas of a primary that lost its last slot to the slot's new
      // owner (cluster-allow-replica-migration); each replica is asked, as the views of the others may lag.
      const after = parseClusterNodes(String(await ask(through, ['CLUSTER', 'NODES']))).nodes;
      for (const replica of after.filter((n) => n.role === 'replica')) {
        const at = parseAddress(replica.address);
        const own = parseClusterNodes(String(await ask(at, ['CLUSTER', 'NODES']))).nodes.find((n) => n.myself);
        if (own?.masterId === target.id) await ask(at, ['CLUSTER', 'REPLICATE', leastReplicated(after, target.id)]);
      }
      // redis-cli sends CLUSTER FORGET to every other node, then CLUSTER RESET SOFT to the removed one.
      await this.cli(['--cluster', 'del-node', show(through), target.id]);
      const settled = (view: ClusterNodeEntry[]) =>
        !view.some((n) => n.id === target.id) && view.every((n) => n.role === 'master' || view.some((m) => m.id === n.masterId && m.role === 'master'));
      await this.untilAllAgree((all) => all.every(settled), through);
      // del-node leaves it reset SOFT, with its old node id, which the others refuse to hear of for
      // 60 s after a FORGET: a new id (HARD) lets the same server join again at once.
      await ask(parseAddress(target.address), ['CLUSTER', 'RESET', 'HARD']).catch(() => {});
    });
  }

  /** Evens the slots out across the primaries (empty ones included); moves nothing if they are within 2 % already. */
  async prepareRebalance(): Promise<PreparedOperation> {
    const { nodes, entry } = await this.healthyLayout();
    const masters = nodes.filter((n) => n.role === 'master').map((n) => ({ slots: n.slots, weight: 1 }));
    return this.prepared('rebalance', null, plannedMoves(masters), async (progress, tell) => {
      // A primary joined by hand a moment ago refuses keys until its rejoin delay has passed.
      await this.untilAllAgree(() => true, entry);
      await this.moveSlots(entry, ['--cluster-use-empty-masters'], progress, tell);
    });
  }

  private prepared(
    operation: ClusterOperation,
    node: string | null,
    plannedSlots: number,
    body: (progress: RebalanceProgress, tell: () => void) => Promise<void>,
  ): PreparedOperation {
    return {
      operation,
      node,
      plannedSlots,
      run: async (onProgress) => {
        const progress: RebalanceProgress = { operation, node, phase: operation === 'add-node' ? 'joining' : 'moving', movedSlots: 0, plannedSlots, moves: [], startedAt: Date.now(), finishedAt: null, error: null };
        const tell = () => onProgress?.(structuredClone(progress));
        tell();
        try {
          await body(progress, tell);
          progress.phase = 'done';
          progress.plannedSlots = progress.movedSlots;
        } catch (error) {
          progress.phase = 'failed';
          progress.error = (error as Error).message;
        } finally {
          progress.finishedAt = Date.now();
        }
        tell();
        return structuredClone(progress);
      },
    };
  }

  /** `redis-cli --cluster rebalance` with `extra`, counting its moves as they are reported. */
  private async moveSlots(entry: RedisAddress, extra: string[], progress: RebalanceProgress, tell: () => void): Promise<void> {
    progress.phase = 'moving';
    tell();
    // Gossip may still be spreading the last change (a join, an earlier move): redis-cli checks that
    // every node sees the same slot map before it moves anything, and refuses (moving nothing) when
    // one does not yet. Wait for agreement; if gossip moved again in between, wait and ask again.
    for (let attempt = 1; ; attempt++) {
      await this.untilAllAgree(() => true, entry);
      try {
        await this.rebalanceOnce(entry, extra, progress, tell);
        return;
      } catch (error) {
        if (attempt >= 3 || !/don't agree about configuration/.test((error as Error).message)) throw error;
      }
    }
  }

  private async rebalanceOnce(entry: RedisAddress, extra: string[], progress: RebalanceProgress, tell: () => void): Promise<void> {
    const announced = () => progress.moves.reduce((sum, move) => sum + move.slots, 0);
    let line = '';
    await this.cli(['--cluster', 'rebalance', show(entry), ...extra, '--cluster-pipeline', String(this.keysPerMigrate)], (text) => {
      for (const char of text) {
        if (char === '#') {
          progress.movedSlots++;
          tell();
        } else if (char === '\n') {
          const move = /^Moving (\d+) slots from (\S+) to (\S+)/.exec(line);
          if (move) {
            progress.moves.push({ slots: Number(move[1]), from: move[2]!, to: move[3]! });
            progress.plannedSlots = Math.max(progress.plannedSlots, announced());
            tell();
          }
          line = '';
        } else {
          line += char;
        }
      }
    });
  }

  /** The layout, refused when a resharding is under way or a node is failed (redis-cli would refuse too, later and less clearly). */
  private async healthyLayout(): Promise<{ nodes: ClusterNodeEntry[]; entry: RedisAddress }> {
    const { text, entry } = await this.layout();
    const { nodes, openSlots } = parseClusterNodes(text);
    if (openSlots > 0) throw new FreshcacheError('conflict', `${openSlots} slots are being migrated already: a resharding is under way (or was cut short: redis-cli --cluster fix)`);
    const unhealthy = nodes.find((n) => n.unhealthy);
    if (unhealthy) throw new FreshcacheError('conflict', `node ${unhealthy.address} is failed or joining: wait until the cluster is healthy`);
    return { nodes, entry };
  }

  /**
   * Until every node's view of the cluster satisfies `agreed` (gossip spreads a change in about a
   * second) and every node says `cluster_state:ok`: a primary that just joined answers
   * CLUSTERDOWN, to the MIGRATE that would bring it keys too, until its rejoin delay (the node
   * timeout) has passed.
   */
  private async untilAllAgree(agreed: (views: ClusterNodeEntry[][]) => boolean, entry: RedisAddress): Promise<void> {
    const deadline = Date.now() + this.joinTimeoutMs;
    for (;;) {
      const nodes = parseClusterNodes(String(await ask(entry, ['CLUSTER', 'NODES']))).nodes.filter((n) => !n.unhealthy);
      const texts = await Promise.all(nodes.map(async (n) => String(await ask(parseAddress(n.address), ['CLUSTER', 'NODES']))));
      const views = texts.map((text) => parseClusterNodes(text).nodes);
      const states = await Promise.all(nodes.map(async (n) => String(await ask(parseAddress(n.address), ['CLUSTER', 'INFO']))));
      // redis-cli refuses to move slots ("Nodes don't agree about configuration!") until every node sees the same slot map.
      const sameSlots = new Set(texts.map(slotSignature)).size === 1;
      if (agreed(views) && sameSlots && states.every((info) => info.includes('cluster_state:ok'))) return;
      if (Date.now() > deadline) throw new Error(`the cluster's nodes did not agree on the change within ${this.joinTimeoutMs} ms`);
      // Gossip raises no event we could wait on: a bounded poll of the nodes' views.
      await delay(POLL_MS);
    }
  }

  private cli(args: string[], onOutput?: (text: string) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      // --cluster-yes answers redis-cli's confirmation questions; NO_COLOR keeps the output plain where redis-cli honours it.
      const child = spawn(this.redisCli, [...args, '--cluster-yes'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
      let tail = '';
      const take = (chunk: Buffer) => {
        const text = stripColours(chunk.toString());
        tail = (tail + text).slice(-4_000);
        onOutput?.(text);
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      child.once('error', (error) =>
        reject(
          (error as NodeJS.ErrnoException).code === 'ENOENT' ? new Error(`${this.redisCli} not found: it is in the redis-tools package (apt-get install -y redis-tools)`) : error,
        ),
      );
      child.once('close', (code, signal) => {
        if (code === 0) return resolve();
        // Its "[ERR]" line says why better than the last lines do.
        const refused = /^\[ERR\].*$/m.exec(tail);
        reject(new Error(`redis-cli ${args.slice(0, 2).join(' ')} failed (${signal ?? `exit ${code}`}): ${(refused?.[0] ?? tail.trim().split('\n').slice(-3).join(' ')).trim()}`));
      });
    });
  }
}

/**
 * The slots redis-cli's rebalance moves for these primaries: each should hold
 * 16384 / total weight × its weight, and the ones above that give their surplus. It skips the run
 * when no primary is more than 2 % off (its default threshold), and so do we.
 */
export function plannedMoves(masters: readonly { slots: number; weight: number }[]): number {
  const totalWeight = masters.reduce((sum, m) => sum + m.weight, 0);
  if (totalWeight === 0) return 0;
  let over = false;
  let surplus = 0;
  for (const master of masters) {
    const expected = Math.trunc(Math.fround(SLOTS / totalWeight) * master.weight);
    if (master.slots > 0 ? Math.abs(100 - (100 * expected) / master.slots) > 2 : expected > 1) over = true;
    surplus += Math.max(0, master.slots - expected);
  }
  return over ? surplus : 0;
}

/** CLUSTER NODES text: the nodes, and how many slots are open (migrating or importing). */
export function parseClusterNodes(text: string): { nodes: ClusterNodeEntry[]; openSlots: number } {
  const nodes: ClusterNodeEntry[] = [];
  let openSlots = 0;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 8) continue;
    const [id, endpoint, flagText, master, , , epoch] = fields as [string, string, string, string, string, string, string];
    const flags = flagText.split(',');
    if (flags.includes('noaddr')) continue;
    const ranges: [number, number][] = [];
    for (const range of fields.slice(8)) {
      if (range.startsWith('[')) {
        openSlots++;
        continue;
      }
      const [first, last = first] = range.split('-').map(Number) as [number, number?];
      ranges.push([first, last]);
    }
    nodes.push({
      id,
      address: endpoint.split('@')[0]!.split(',')[0]!,
      role: flags.includes('master') ? 'master' : 'replica',
      masterId: master === '-' ? null : master,
      slots: ranges.reduce((sum, [first, last]) => sum + last - first + 1, 0),
      ranges,
      epoch: Number(epoch),
      unhealthy: flags.some((f) => f === 'fail' || f === 'fail?' || f === 'handshake'),
      handshake: flags.includes('handshake'),
      myself: flags.includes('myself'),
    });
  }
  return { nodes, openSlots };
}

/** `host:port` → address; a bad one is the caller's error. */
export function parseAddress(text: string): RedisAddress {
  const match = /^([^\s:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65_535) throw new FreshcacheError('bad_request', `"${text}" is not host:port`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

function show(address: RedisAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** The id of the primary (other than `except`) with the fewest replicas. */
function leastReplicated(nodes: readonly ClusterNodeEntry[], except: string): string {
  const masters = nodes.filter((n) => n.role === 'master' && n.id !== except && !n.unhealthy);
  const count = (id: string) => nodes.filter((n) => n.masterId === id).length;
  return masters.sort((a, b) => count(a.id) - count(b.id))[0]!.id;
}

function stripColours(text: string): string {
  // eslint-disable-next-line no-control-regex -- redis-cli colours its output even into a pipe
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

/**
 * A node's view of who serves which slots, as redis-cli compares them: each node with slots, its
 * id and its slot ranges, sorted (a line of CLUSTER NODES: id, address, flags, master, ping, pong,
 * epoch, link, then slots).
 */
export function slotSignature(clusterNodes: string): string {
  return clusterNodes
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((fields) => fields.length > 8)
    .map((fields) => `${fields[0]}:${fields.slice(8).filter((slot) => !slot.startsWith('[')).sort().join(',')}`)
    .sort()
    .join('|');
}

async function ask(at: RedisAddress, command: [string, ...string[]]): Promise<unknown> {
  const client = new Redis(at.port, at.host, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: ASK_TIMEOUT_MS, commandTimeout: ASK_TIMEOUT_MS, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(...command);
  } finally {
    client.disconnect();
  }
}
