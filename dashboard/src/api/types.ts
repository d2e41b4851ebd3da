/**
 * The shapes of the freshcache HTTP API the dashboard reads (docs/api.md is the reference).
 * Written out here rather than imported from the server so that the browser bundle never pulls
 * server code. test/docs/dashboard-types.test-d.ts checks at type level that the server's types
 * still fit these, and the browser tests run the real server.
 */

export interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
}

export interface RegionMetrics {
  requests: {
    l1Hits: number;
    l2Hits: number;
    misses: number;
    staleServed: number;
    originFetches: number;
    originErrors: number;
    staleSetsRefused: number;
    /** Reads answered not_found from a remembered one (negative caching), without a load. */
    negativeHits: number;
    revalidations: number;
    invalidationsApplied: number;
    flushes: number;
    l1Evictions: number;
    l2Evictions: number;
  };
  hitRatio: number | null;
  latencyMs: Percentiles;
  invalidationLagMs: Percentiles;
  entries: { l1?: number; l2?: number };
  bytes: { l1?: number; l2?: number };
}

export interface MetricsSnapshot {
  at: string;
  regions: Record<string, RegionMetrics>;
}

export type HistoryWindow = '1m' | '5m' | '1h';

/** One region over one step of the metrics history: rates per second, percentiles in ms. */
export interface HistoryRegionPoint {
  requestsPerSec: number;
  hitRatio: number | null;
  latencyP50: number | null;
  latencyP95: number | null;
  latencyP99: number | null;
  originFetchesPerSec: number;
  staleReadsPerSec: number;
  lagP50: number | null;
  lagP99: number | null;
}

export interface HistoryPoint {
  /** End of the step, ms since the epoch. */
  t: number;
  regions: Record<string, HistoryRegionPoint>;
}

export interface MetricsHistory {
  window: HistoryWindow;
  stepMs: number;
  points: HistoryPoint[];
}

export type Strategy = 'eager' | 'lazy';
export type Mode = 'cdc' | 'ttl';

export interface RegionSettings {
  name: string;
  delayMs: number;
  jitter: number;
  strategy: Strategy;
  mode: Mode;
  ttlMs: number;
  maxStaleMs: number;
  negativeTtlMs: number;
  /** Whether the process answering serves it: the others are shown as configured, and cannot be changed here. */
  served: boolean;
}

export type RegionPatch = Partial<Omit<RegionSettings, 'name' | 'served'>>;

export interface ContentRecord {
  id: number;
  slug: string;
  title: string;
  body: string;
  tags: string[];
  version: number;
  updatedAt: string;
}

export interface ContentInput {
  slug: string;
  title: string;
  body?: string;
  tags?: string[];
}

export interface ContentPage {
  items: ContentRecord[];
  cursor: number | null;
}

export interface RegionApply {
  appliedAt: number | null;
  lagMs: number | null;
  skipped: boolean;
}

export interface InvalidationStatus {
  id: number;
  source: 'cdc' | 'purge' | 'write';
  keys: string[];
  tags: string[];
  prefixes: string[];
  version?: number;
  committedAt: number;
  publishedAt: number;
  regions: Record<string, RegionApply>;
  complete: boolean;
}

export interface InvalidationTargets {
  keys?: string[];
  tags?: string[];
  prefixes?: string[];
}

export interface DryRunResult {
  dryRun: true;
  keys: string[];
  tags: string[];
  prefixes: string[];
  /** `partial`: the region's walk ran out of budget, so `total` is a lower bound. */
  regions: Record<string, { keys: string[]; total: number; partial?: boolean }>;
}

export type EntryState = 'fresh' | 'stale' | 'invalid';

export interface CacheItem {
  key: string;
  tier: 'l1' | 'l2';
  state: EntryState;
  version: number | null;
  tags: string[];
  size: number;
  ageMs: number;
  ttlMs: number;
  value: unknown;
}

export interface CachePage {
  region: string;
  items: CacheItem[];
  cursor: string | null;
  /** Why the page ended: `limit` items found, the budget of keys examined per page spent, or the `end`. */
  stoppedBy?: 'limit' | 'budget' | 'end';
  /** Keys the page examined, matching or not. */
  examined?: number;
}

export interface CacheLookup {
  key: string;
  value: unknown;
  version: number | null;
  tags: string[];
  state: 'HIT' | 'STALE';
  tier: 'l1' | 'l2';
  ageMs: number;
}

export type CacheHeader = 'HIT' | 'MISS' | 'STALE';

/** A read through one region's cache, with what its headers said. */
export interface EdgeRead {
  region: string;
  record: ContentRecord;
  cache: CacheHeader;
  ageSeconds: number;
  version: number | null;
  /** Round trip as the browser measured it. */
  ms: number;
}

export interface ServerInfo {
  name: string;
  version: string;
  nodeId: string;
  /** Every configured region, in configuration order. */
  regions: string[];
  /** What this process runs: the regions it serves, and whether it is a relay candidate. */
  roles: { regions: string[]; relay: boolean };
  adapters: { origin: string; capture: string; log: string; l2: string };
  /** The apps the server runs on top of the kernel: `content` is the demo, whose page shows only then. */
  apps: string[];
  /** Capabilities of this build; a page of a feature that is off shows "not enabled". */
  features: { cluster: boolean; warming: boolean; audit: boolean; backup: boolean };
  /** Whether this process offers `/api/chaos` (the control process of a `freshcache up` deployment). */
  chaos: boolean;
}

/** A freshcache process (or a library cache inside a service), as `GET /api/nodes` lists it. */
export interface FreshcacheNode {
  kind: 'freshcache';
  id: string;
  /** `edge`, `relay`, `control`, `library`. */
  roles: string[];
  regions: string[];
  url: string | null;
  /** False for a library instance: its service stops it. */
  drainable: boolean;
  version: string;
  startedAt: number;
  lastSeenAt: number;
  state: 'up' | 'down';
  status: {
    health: 'ok' | 'degraded' | 'draining';
    l1: { entries: number; bytes: number };
    hitRatio: number | null;
    lagP99Ms: number | null;
    breaker: 'closed' | 'open' | 'half-open' | null;
    cursor: number;
  };
}

/** A Redis server behind the log or the L2. */
export interface RedisNode {
  kind: 'redis';
  id: string;
  address: string;
  role: 'master' | 'replica';
  masterId: string | null;
  slots: [number, number][];
  /** `online`, `failed`, `loading` or `unreachable`. */
  health: string;
  replicationOffset: number | null;
  keys: number | null;
  memoryBytes: number | null;
  opsPerSec: number | null;
}

export interface NodeList {
  freshcache: FreshcacheNode[];
  redis: RedisNode[];
}

/** A resharding of the Redis Cluster (`GET/POST /api/rebalance`, `rebalance.progress` events). */
export interface RebalanceProgress {
  operation: RebalanceAction;
  /** The node added or removed (`host:port`); null for a rebalance. */
  node: string | null;
  phase: 'joining' | 'moving' | 'forgetting' | 'done' | 'failed';
  movedSlots: number;
  plannedSlots: number;
  moves: { from: string; to: string; slots: number }[];
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
}

export type RebalanceAction = 'add-node' | 'remove-node' | 'rebalance';

export interface RebalanceStatus {
  running: boolean;
  progress: RebalanceProgress | null;
}

/** A replica that took over a primary's slots (`redis.failover` events, `GET /api/failovers`). */
export interface RedisFailover {
  at: number;
  failedNode: { id: string; address: string };
  promotedNode: { id: string; address: string };
  slots: [number, number][];
}

export interface FailoverList {
  /** Whether the server looks at the cluster (it does while an event stream is open). */
  watching: boolean;
  lookedAt: number | null;
  /** Newest first. */
  items: RedisFailover[];
}

export type ChaosAction = 'kill' | 'restart' | 'pause' | 'resume';

/** A process `freshcache up` supervises, which chaos actions can target. */
export interface ChaosService {
  name: string;
  pid: number | null;
  state: 'running' | 'paused' | 'restarting' | 'stopped';
  restarts: number;
}

/** Server-sent events of `GET /api/events`. */
export interface EventMap {
  'invalidation.published': InvalidationStatus;
  'invalidation.applied': InvalidationStatus & { region: string };
  'content.changed': { op: 'create' | 'update' | 'delete'; id: number; record?: ContentRecord };
  'region.updated': { name: string; settings: Omit<RegionSettings, 'name' | 'served'> };
  'region.flushed': { name: string; reason: string };
  'rebalance.progress': RebalanceProgress;
  'redis.failover': RedisFailover;
}

export type EventName = keyof EventMap;
