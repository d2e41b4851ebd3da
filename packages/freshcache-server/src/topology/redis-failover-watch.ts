import { Redis } from 'ioredis';
import { parseClusterNodes } from './redis-cluster-admin.js';

/** A node in a failover: its cluster id and `host:port`. */
export interface FailoverNode {
  id: string;
  address: string;
}

/** A replica that took over its primary's slots, as the watch saw it. */
export interface RedisFailover {
  /** When the watch saw the replica promoted (ms since the epoch). */
  at: number;
  /** The primary it replaced (usually failed; a manual CLUSTER FAILOVER leaves it a healthy replica). */
  failedNode: FailoverNode;
  promotedNode: FailoverNode;
  /** The slot ranges the promoted node serves, `[first, last]`. */
  slots: [number, number][];
}

/** One node as a look at CLUSTER NODES shows it. */
export interface LookedNode {
  id: string;
  address: string;
  role: 'master' | 'replica';
  masterId: string | null;
  /** The config epoch: a promotion takes one above every epoch the cluster had. */
  epoch: number;
  slots: [number, number][];
}

export interface RedisFailoverWatchOptions {
  /** Nodes of the cluster: each look asks the first that answers. */
  seeds: readonly { host: string; port: number }[];
  /** Heard once per failover seen. */
  onFailover: (failover: RedisFailover) => void;
  /** How often to look while listened to (default 1 s: a failover takes a node timeout and an election, seconds). */
  intervalMs?: number;
  /** Failovers kept for `recent()` (default 20). */
  keep?: number;
  now?: () => number;
}

/** A node that does not answer within this is skipped for the next seed: a look must not hang on a dead node. */
const ASK_TIMEOUT_MS = 1_000;

/**
 * Sees Redis Cluster failovers: while someone listens, it looks at CLUSTER NODES every
 * `intervalMs`, and a replica that became a primary with slots and a config epoch above every
 * epoch seen before is a failover. The epoch is what tells a promotion from a stale view: a node
 * restarted from its nodes.conf shows the old layout for a moment, with the old epochs. With nobody
 * listening it does not look, and forgets the last layout: a failover then goes unreported rather
 * than reported late with a wrong time.
 */
export class RedisFailoverWatch {
  private readonly seeds: readonly { host: string; port: number }[];
  private readonly onFailover: (failover: RedisFailover) => void;
  private readonly intervalMs: number;
  private readonly keep: number;
  private readonly now: () => number;
  private readonly kept: RedisFailover[] = [];
  private listeners = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private looking: Promise<void> | undefined;
  private before: Map<string, LookedNode> | undefined;
  private highestEpoch = 0;
  private lastLook: number | null = null;

  constructor(options: RedisFailoverWatchOptions) {
    this.seeds = options.seeds;
    this.onFailover = options.onFailover;
    this.intervalMs = options.intervalMs ?? 1_000;
    this.keep = options.keep ?? 20;
    this.now = options.now ?? Date.now;
  }

  /** Looks while at least one caller listens; call the returned function to stop listening. */
  listen(): () => void {
    this.listeners++;
    if (this.listeners === 1) {
      this.tick();
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.listeners--;
      if (this.listeners === 0) this.stop();
    };
  }

  /** Whether someone listens, so the watch looks. */
  get watching(): boolean {
    return this.listeners > 0;
  }

  /** When the last look since listening began got an answer; null before one did. */
  get lookedAt(): number | null {
    return this.lastLook;
  }

  /** The failovers seen, newest first (at most `keep`). */
  recent(): RedisFailover[] {
    return [...this.kept];
  }

  /** Stops looking, and waits for a look under way. */
  async close(): Promise<void> {
    this.listeners = 0;
    this.stop();
    await this.looking;
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.before = undefined;
    this.highestEpoch = 0;
    this.lastLook = null;
  }

  private tick(): void {
    // One look at a time: a dead seed costs a timeout, longer than an interval may be.
    if (this.looking) return;
    this.looking = this.look().finally(() => (this.looking = undefined));
  }

  private async look(): Promise<void> {
    const nodes = await lookAt(this.seeds);
    // Nobody listens any more (or nothing answered): this look compares with nothing.
    if (!nodes || this.timer === undefined) return;
    const at = this.now();
    if (this.before) {
      for (const failover of findFailovers(this.before, nodes, this.highestEpoch)) {
        const seen = { at, ...failover };
        this.kept.unshift(seen);
        this.kept.length = Math.min(this.kept.length, this.keep);
        this.onFailover(seen);
      }
    }
    this.before = new Map(nodes.map((node) => [node.id, node]));
    for (const node of nodes) this.highestEpoch = Math.max(this.highestEpoch, node.epoch);
    this.lastLook = at;
  }
}

/**
 * The failovers between two looks: a node that was a replica and is now a primary serving slots,
 * with a config epoch above `highestEpoch` (every epoch seen before), took over from the primary
 * it replicated.
 */
export function findFailovers(before: ReadonlyMap<string, LookedNode>, after: readonly LookedNode[], highestEpoch: number): Omit<RedisFailover, 'at'>[] {
  const failovers: Omit<RedisFailover, 'at'>[] = [];
  for (const node of after) {
    const was = before.get(node.id);
    if (node.role !== 'master' || node.slots.length === 0 || node.epoch <= highestEpoch || was?.role !== 'replica') continue;
    const failed = (was.masterId === null ? undefined : before.get(was.masterId)) ?? { id: was.masterId ?? 'unknown', address: 'unknown' };
    failovers.push({ failedNode: { id: failed.id, address: failed.address }, promotedNode: { id: node.id, address: node.address }, slots: node.slots });
  }
  return failovers;
}

/** CLUSTER NODES as nodes with their slot ranges and epochs (open slots are skipped; so are nodes without an address, or still in their handshake). */
export function parseClusterLayout(text: string): LookedNode[] {
  return parseClusterNodes(text)
    .nodes.filter((node) => !node.handshake)
    .map(({ id, address, role, masterId, epoch, ranges }) => ({ id, address, role, masterId, epoch, slots: ranges }));
}

/** CLUSTER NODES from the first seed that answers; undefined when none does. */
async function lookAt(seeds: readonly { host: string; port: number }[]): Promise<LookedNode[] | undefined> {
  for (const seed of seeds) {
    const client = new Redis(seed.port, seed.host, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: ASK_TIMEOUT_MS, commandTimeout: ASK_TIMEOUT_MS, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      const nodes = parseClusterLayout(String(await client.call('CLUSTER', 'NODES')));
      // A node removed from the cluster answers alone and empty: ask the next one.
      if (nodes.some((node) => node.slots.length > 0)) return nodes;
    } catch {
      // Dead, paused or not a cluster node: the next seed.
    } finally {
      client.disconnect();
    }
  }
  return undefined;
}
