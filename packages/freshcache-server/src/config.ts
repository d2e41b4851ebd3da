import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { type CaptureRule, FreshcacheError, type Strategy, CacheSettingsSchema, checkAgainst } from 'freshcache';
import { DEFAULT_CUT_OFF_MS, DEFAULT_LOG_REPLICATION, type LogReplication } from 'freshcache/redis';
import type { FreshnessMode, RegionConfig, TierConfig } from './topology/region.js';
import { RegionInputSchema } from './topology/region-schema.js';
import type { RegionInput } from './topology/region-schema.js';

/** A Redis server, or the seed nodes of a Redis Cluster. */
export type RedisTarget = { url: string } | { cluster: { host: string; port: number }[] };

export type OriginConfig = { kind: 'pglite'; dataDir?: string } | { kind: 'postgres'; url: string };
/**
 * How the relay learns of the origin's changes (the outbox, on PGlite or PostgreSQL, or
 * PostgreSQL's WAL), and what they invalidate: `rules` name the tables and map their rows to keys,
 * tags and prefixes (see compileRules).
 */
export type CaptureConfig = ({ kind: 'outbox' } | { kind: 'wal'; slot: string }) & { rules: CaptureRule[] };
/**
 * `cutOffMs` (redis log): how long a node keeps serving its L1 without news from the log (Redis
 * down, or silent) before it flushes it. `replication` (redis log): whether an append (a relay's
 * batch, a purge) is acknowledged only once a replica of the log's primary has it (see LogReplication).
 */
export type LogConfig =
  | { kind: 'memory'; retain: number }
  | { kind: 'redis'; redis: RedisTarget; retain: number; namespace: string; cutOffMs: number; replication: LogReplication };
export type L2Config = { kind: 'memory' } | { kind: 'redis'; redis: RedisTarget; namespace: string };

export interface FreshcacheConfig {
  port: number;
  host: string;
  /**
   * The proxies whose X-Forwarded-For this process believes (addresses, CIDRs, or `loopback`),
   * so that request.ip, the per-IP limits and the audit see the client behind them. None by
   * default: a client could otherwise name any address it likes. `freshcache up` trusts
   * 127.0.0.1, its nginx.
   */
  trustProxy: readonly string[];
  /** This process's name: its consumer name in each region's group, and in logs. */
  nodeId: string;
  /** What this process runs: edge nodes for these regions, and/or a relay candidate. */
  roles: { regions: string[]; relay: boolean };
  regions: RegionConfig[];
  limits: {
    maxKeyBytes: number;
    maxValueBytes: number;
    /** Largest request body accepted; a little over maxValueBytes so a max-size value still fits with its JSON. */
    bodyLimitBytes: number;
  };
  origin: OriginConfig;
  capture: CaptureConfig;
  /** `electionMs`: how often a standby relay tries to take over (PostgreSQL only). */
  relay: { pollMs: number; electionMs: number };
  log: LogConfig;
  l2: L2Config;
  /**
   * The node registry (on the log's Redis, or in memory): a heartbeat every `heartbeatMs`; a node
   * silent for `downAfterMs` is shown down, for `removeAfterMs` removed.
   */
  nodes: { heartbeatMs: number; downAfterMs: number; removeAfterMs: number };
  /**
   * Run the demo app (packages/freshcache-server/src/demo: its table, capture rule and routes). By
   * default only on the embedded origin (PGlite) with no capture rules: on PostgreSQL, the database
   * is the user's, and the demo's table must be asked for (`freshcache up` does).
   */
  demo: boolean;
  /** Let the apps fill an empty database with their sample data (the demo's articles). */
  seed: boolean;
}

export type { RegionInput };

export interface ConfigInput {
  port?: number;
  host?: string;
  trustProxy?: string[];
  nodeId?: string;
  roles?: { regions?: string[]; relay?: boolean };
  regions?: RegionInput[];
  limits?: Partial<FreshcacheConfig['limits']>;
  origin?: { kind?: 'pglite'; dataDir?: string } | { kind: 'postgres'; url: string };
  capture?: ({ kind: 'outbox' } | { kind: 'wal'; slot?: string }) & { rules?: CaptureRule[] };
  relay?: Partial<FreshcacheConfig['relay']>;
  log?: { kind?: 'memory'; retain?: number } | { kind: 'redis'; redis: RedisTarget; retain?: number; namespace?: string; cutOffMs?: number; replication?: Partial<LogReplication> };
  l2?: { kind?: 'memory' } | { kind: 'redis'; redis: RedisTarget; namespace?: string };
  nodes?: Partial<FreshcacheConfig['nodes']>;
  demo?: boolean;
  seed?: boolean;
}

/** The demo regions: propagation delays of a realistic edge network. */
export const DEFAULT_REGIONS: readonly { name: string; delayMs: number }[] = [
  { name: 'us-east', delayMs: 100 },
  { name: 'eu-west', delayMs: 300 },
  { name: 'ap-south', delayMs: 600 },
];

const REGION_DEFAULTS = {
  jitter: 0.1,
  strategy: 'eager' as Strategy,
  mode: 'cdc' as FreshnessMode,
  ttlMs: 60_000,
  maxStaleMs: 30_000,
  negativeTtlMs: 5_000,
  l1: { policy: 'lru', maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 } satisfies TierConfig,
  l2: { policy: 'lru', maxEntries: 100_000, maxBytes: 256 * 1024 * 1024 } satisfies TierConfig,
};

/** An address or CIDR Fastify's trustProxy (proxy-addr) accepts, or one of its names for loopback and private ranges. */
function isProxyAddress(value: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(value)) return true;
  const [address = '', prefix, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

const REGION_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** Fills in defaults, validates once, and freezes: nothing deeper re-checks configuration. */
export function resolveConfig(input: ConfigInput = {}): Readonly<FreshcacheConfig> {
  const maxValueBytes = input.limits?.maxValueBytes ?? 1024 * 1024;
  const regions = (input.regions ?? DEFAULT_REGIONS.map((r) => ({ ...r }))).map(resolveRegion);
  const config: FreshcacheConfig = {
    port: input.port ?? 3000,
    host: input.host ?? '127.0.0.1',
    trustProxy: [...(input.trustProxy ?? [])],
    nodeId: input.nodeId ?? `${hostname()}:${process.pid}`,
    roles: { regions: input.roles?.regions ?? regions.map((r) => r.name), relay: input.roles?.relay ?? true },
    regions,
    limits: {
      maxKeyBytes: input.limits?.maxKeyBytes ?? 512,
      maxValueBytes,
      bodyLimitBytes: input.limits?.bodyLimitBytes ?? maxValueBytes + 64 * 1024,
    },
    origin: input.origin?.kind === 'postgres' ? { kind: 'postgres', url: input.origin.url } : { kind: 'pglite', dataDir: input.origin?.dataDir },
    capture: {
      ...(input.capture?.kind === 'wal' ? { kind: 'wal', slot: input.capture.slot ?? 'freshcache_relay' } : { kind: 'outbox' }),
      rules: [...(input.capture?.rules ?? [])],
    },
    relay: { pollMs: input.relay?.pollMs ?? 1000, electionMs: input.relay?.electionMs ?? 1000 },
    log:
      input.log?.kind === 'redis'
        ? {
            kind: 'redis',
            redis: input.log.redis,
            retain: input.log.retain ?? 10_000,
            namespace: input.log.namespace ?? 'freshcache:',
            cutOffMs: input.log.cutOffMs ?? DEFAULT_CUT_OFF_MS,
            replication: { ...DEFAULT_LOG_REPLICATION, ...input.log.replication },
          }
        : { kind: 'memory', retain: input.log?.retain ?? 10_000 },
    l2: input.l2?.kind === 'redis' ? { kind: 'redis', redis: input.l2.redis, namespace: input.l2.namespace ?? 'freshcache:l2:' } : { kind: 'memory' },
    nodes: {
      heartbeatMs: input.nodes?.heartbeatMs ?? 1_000,
      downAfterMs: input.nodes?.downAfterMs ?? 5_000,
      removeAfterMs: input.nodes?.removeAfterMs ?? 60_000,
    },
    demo: input.demo ?? (input.origin?.kind !== 'postgres' && (input.capture?.rules ?? []).length === 0),
    seed: input.seed ?? true,
  };
  check(Number.isInteger(config.port) && config.port >= 0 && config.port < 65536, `port must be 0..65535, got ${config.port}`);
  check(config.regions.length > 0, 'at least one region is needed');
  for (const proxy of config.trustProxy) check(isProxyAddress(proxy), `trustProxy entries are addresses, CIDRs or "loopback", got ${JSON.stringify(proxy)}`);
  const names = new Set<string>();
  for (const region of config.regions) {
    check(!names.has(region.name), `region "${region.name}" is named twice`);
    names.add(region.name);
  }
  checkAgainst(CacheSettingsSchema, { maxKeyBytes: config.limits.maxKeyBytes, maxValueBytes: config.limits.maxValueBytes }, 'invalid configuration: limits');
  check(config.limits.bodyLimitBytes >= config.limits.maxValueBytes, 'bodyLimitBytes must be at least maxValueBytes');
  check(config.relay.pollMs >= 10, 'relay.pollMs must be at least 10');
  check(config.log.retain >= 1, 'log.retain must be at least 1');
  check(config.relay.electionMs >= 10, 'relay.electionMs must be at least 10');
  check(config.nodeId.length > 0 && config.nodeId.length <= 128, 'nodeId must be 1..128 characters');
  const { heartbeatMs, downAfterMs, removeAfterMs } = config.nodes;
  check(Number.isInteger(heartbeatMs) && heartbeatMs >= 10, 'nodes.heartbeatMs must be an integer of at least 10');
  // A node must get at least one heartbeat in before it is judged down.
  check(Number.isInteger(downAfterMs) && downAfterMs > heartbeatMs, 'nodes.downAfterMs must be an integer above nodes.heartbeatMs');
  check(Number.isInteger(removeAfterMs) && removeAfterMs > downAfterMs, 'nodes.removeAfterMs must be an integer above nodes.downAfterMs');
  for (const name of config.roles.regions) check(names.has(name), `roles.regions names "${name}", which is not a configured region`);
  check(config.capture.kind !== 'wal' || config.origin.kind === 'postgres', 'capture "wal" needs a postgres origin (PGlite has no logical replication)');
  check(config.capture.kind !== 'wal' || /^[a-z_][a-z0-9_]{0,55}$/.test(config.capture.slot), 'capture.slot must be a lowercase SQL name');
  // Nodes sharing an L2 must hear the same invalidations in the same order: one log for all.
  check(config.l2.kind !== 'redis' || config.log.kind === 'redis', 'a redis L2 (shared by processes) needs the redis log');
  const distributed = config.log.kind === 'redis' && config.origin.kind === 'postgres';
  check(
    distributed || (config.roles.relay && config.roles.regions.length === config.regions.length),
    'running only some roles needs the shared parts: a redis log and a postgres origin',
  );
  if (config.log.kind === 'redis') {
    checkRedisTarget(config.log.redis, 'log.redis');
    checkNamespace(config.log.namespace, 'log.namespace');
    check(Number.isInteger(config.log.cutOffMs) && config.log.cutOffMs >= 100, 'log.cutOffMs must be an integer of at least 100');
    check(['auto', 'always', 'never'].includes(config.log.replication.wait), 'log.replication.wait must be auto, always or never');
    check(Number.isInteger(config.log.replication.timeoutMs) && config.log.replication.timeoutMs >= 1, 'log.replication.timeoutMs must be a positive integer');
  }
  if (config.l2.kind === 'redis') {
    checkRedisTarget(config.l2.redis, 'l2.redis');
    checkNamespace(config.l2.namespace, 'l2.namespace');
  }
  return deepFreeze(config);
}

export function resolveRegion(input: RegionInput): RegionConfig {
  const region: RegionConfig = {
    ...REGION_DEFAULTS,
    delayMs: 0,
    ...input,
    l1: { ...REGION_DEFAULTS.l1, ...input.l1 },
    l2: { ...REGION_DEFAULTS.l2, ...input.l2 },
  };
  validateRegionSettings(region);
  return region;
}

/** The region's schema (the one the config file and `PATCH /api/regions/:name` use), and its name. */
export function validateRegionSettings(region: RegionConfig): void {
  check(REGION_NAME.test(region.name), `region name "${region.name}" must match ${REGION_NAME}`);
  checkAgainst(RegionInputSchema, region, `invalid configuration: region "${region.name}"`);
}

function checkRedisTarget(target: RedisTarget, where: string): void {
  if ('url' in target) {
    check(/^rediss?:\/\//.test(target.url), `${where}.url must start with redis:// or rediss://`);
  } else {
    check(Array.isArray(target.cluster) && target.cluster.length > 0, `${where}.cluster must list at least one node`);
    for (const node of target.cluster) check(typeof node.host === 'string' && Number.isInteger(node.port), `${where}.cluster nodes need host and port`);
  }
}

/** The Redis adapters refuse such a namespace too, but only once they are built, after the origin is connected. */
function checkNamespace(namespace: string, where: string): void {
  check(!/[{}]/.test(namespace), `${where} must not contain braces (they would change which part of each key Redis hashes), got "${namespace}"`);
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new FreshcacheError('bad_request', `invalid configuration: ${message}`);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
