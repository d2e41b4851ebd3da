/**
 * The fleet's list of freshcache processes: every server process and every library cache that
 * follows a deployment's log heartbeats its record here; a control process lists them.
 */

/** One region's figures on a node. */
export interface RegionFigures {
  l1: { entries: number; bytes: number };
  hitRatio: number | null;
  lagP99Ms: number | null;
  cursor: number;
}

/** What a node last said of itself (figures are its own, read when it sent the heartbeat). */
export interface NodeStatus {
  /** `ok`, `degraded` (a circuit breaker is open: it serves without its shared tier), `draining`. */
  health: 'ok' | 'degraded' | 'draining';
  /** Its L1, summed over the regions it serves. */
  l1: { entries: number; bytes: number };
  /** Hits over reads since it started; null before its first read. */
  hitRatio: number | null;
  /** 99th percentile of commit → applied on this node, in ms; null before it applied an event. */
  lagP99Ms: number | null;
  /** The worst state of its circuit breakers; null when it has none (no Redis L2). */
  breaker: 'closed' | 'open' | 'half-open' | null;
  /** The newest invalidation-log position it received. */
  cursor: number;
  /** The same figures for each region it serves (a process may serve several). */
  regions: Record<string, RegionFigures>;
}

/** A node's heartbeat: who it is and how it is. */
export interface NodeRecord {
  id: string;
  /** `edge` (serves regions), `relay`, `control` (admin API), `library` (a cache inside a user's service). */
  roles: string[];
  regions: string[];
  /** Where its HTTP API answers; null for a library instance, which has none. */
  url: string | null;
  /** Whether `DELETE /api/nodes/:id` can drain it (false for a library instance). */
  drainable: boolean;
  /** freshcache's version on that node. */
  version: string;
  /** When it started (ms epoch). */
  startedAt: number;
  status: NodeStatus;
}

/** `up`: heartbeating; `down`: silent for longer than the registry's `downAfterMs`. */
export type NodeState = 'up' | 'down';

/** A record as listed: with when it was last heard of, and whether it still counts as up. */
export interface NodeView extends NodeRecord {
  lastSeenAt: number;
  state: NodeState;
}

/** How long a silent node is shown, and when it counts as down. */
export interface NodeRegistryTimings {
  /** Silent for this long (ms): listed as `down` (default 5,000). */
  downAfterMs: number;
  /** Silent for this long (ms): no longer listed, and deleted (default 60,000). */
  removeAfterMs: number;
}

export const NODE_REGISTRY_DEFAULTS = Object.freeze({ heartbeatMs: 1_000, downAfterMs: 5_000, removeAfterMs: 60_000 });

export interface NodeRegistry {
  /** Records `record` as seen now (registers it the first time). Resolves once stored. */
  heartbeat(record: NodeRecord): Promise<void>;
  /** Every node heard of within `removeAfterMs`, by id; older ones are removed on the way. */
  list(): Promise<NodeView[]>;
  /** One node as `list` shows it; undefined when unknown or removed. */
  get(id: string): Promise<NodeView | undefined>;
  /** Removes the node now (it stopped or was drained). Removing an unknown id does nothing. */
  deregister(id: string): Promise<void>;
  close(): Promise<void>;
}

/** A node's state `nowMs`, last seen at `lastSeenAt`: undefined once it is to be removed. */
export function nodeStateAt(lastSeenAt: number, nowMs: number, timings: NodeRegistryTimings): NodeState | undefined {
  const silentMs = nowMs - lastSeenAt;
  if (silentMs >= timings.removeAfterMs) return undefined;
  return silentMs >= timings.downAfterMs ? 'down' : 'up';
}
