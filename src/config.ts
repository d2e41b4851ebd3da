import { FreshcacheError } from './engine/errors.js';
import type { FreshnessMode, RegionConfig, TierConfig } from './topology/region.js';
import type { Strategy } from './engine/tiered-cache.js';

export interface FreshcacheConfig {
  port: number;
  host: string;
  regions: RegionConfig[];
  limits: {
    maxKeyBytes: number;
    maxValueBytes: number;
    /** Largest request body accepted; a little over maxValueBytes so a max-size value still fits with its JSON. */
    bodyLimitBytes: number;
  };
  origin: { kind: 'pglite'; dataDir?: string };
  relay: { pollMs: number };
  log: { retain: number };
  /** Seed the origin with sample content when it is empty. */
  seed: boolean;
}

export type RegionInput = Partial<Omit<RegionConfig, 'l1' | 'l2'>> & { name: string; l1?: Partial<TierConfig>; l2?: Partial<TierConfig> };

export interface ConfigInput {
  port?: number;
  host?: string;
  regions?: RegionInput[];
  limits?: Partial<FreshcacheConfig['limits']>;
  origin?: Partial<FreshcacheConfig['origin']>;
  relay?: Partial<FreshcacheConfig['relay']>;
  log?: Partial<FreshcacheConfig['log']>;
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
  l1: { policy: 'lru', maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 } satisfies TierConfig,
  l2: { policy: 'lru', maxEntries: 100_000, maxBytes: 256 * 1024 * 1024 } satisfies TierConfig,
};

const REGION_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** Fills in defaults, validates once, and freezes: nothing deeper re-checks configuration. */
export function resolveConfig(input: ConfigInput = {}): Readonly<FreshcacheConfig> {
  const maxValueBytes = input.limits?.maxValueBytes ?? 1024 * 1024;
  const config: FreshcacheConfig = {
    port: input.port ?? 3000,
    host: input.host ?? '127.0.0.1',
    regions: (input.regions ?? DEFAULT_REGIONS.map((r) => ({ ...r }))).map(resolveRegion),
    limits: {
      maxKeyBytes: input.limits?.maxKeyBytes ?? 512,
      maxValueBytes,
      bodyLimitBytes: input.limits?.bodyLimitBytes ?? maxValueBytes + 64 * 1024,
    },
    origin: { kind: 'pglite', ...input.origin },
    relay: { pollMs: input.relay?.pollMs ?? 1000 },
    log: { retain: input.log?.retain ?? 10_000 },
    seed: input.seed ?? true,
  };
  check(Number.isInteger(config.port) && config.port >= 0 && config.port < 65536, `port must be 0..65535, got ${config.port}`);
  check(config.regions.length > 0, 'at least one region is needed');
  const names = new Set<string>();
  for (const region of config.regions) {
    check(!names.has(region.name), `region "${region.name}" is named twice`);
    names.add(region.name);
  }
  check(config.limits.maxKeyBytes > 0 && config.limits.maxValueBytes > 0, 'limits must be positive');
  check(config.limits.bodyLimitBytes >= config.limits.maxValueBytes, 'bodyLimitBytes must be at least maxValueBytes');
  check(config.relay.pollMs >= 10, 'relay.pollMs must be at least 10');
  check(config.log.retain >= 1, 'log.retain must be at least 1');
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

/** The checks that also guard `PATCH /api/regions/:name`. */
export function validateRegionSettings(region: Partial<RegionConfig>): void {
  if (region.name !== undefined) check(REGION_NAME.test(region.name), `region name "${region.name}" must match ${REGION_NAME}`);
  if (region.delayMs !== undefined) check(Number.isFinite(region.delayMs) && region.delayMs >= 0 && region.delayMs <= 600_000, 'delayMs must be 0..600000');
  if (region.jitter !== undefined) check(Number.isFinite(region.jitter) && region.jitter >= 0 && region.jitter <= 1, 'jitter must be 0..1');
  if (region.strategy !== undefined) check(region.strategy === 'eager' || region.strategy === 'lazy', 'strategy must be eager or lazy');
  if (region.mode !== undefined) check(region.mode === 'cdc' || region.mode === 'ttl', 'mode must be cdc or ttl');
  if (region.ttlMs !== undefined) check(Number.isFinite(region.ttlMs) && region.ttlMs > 0 && region.ttlMs <= 86_400_000, 'ttlMs must be 1..86400000');
  if (region.maxStaleMs !== undefined) check(Number.isFinite(region.maxStaleMs) && region.maxStaleMs >= 0, 'maxStaleMs must be >= 0');
  for (const tier of [region.l1, region.l2]) {
    if (!tier) continue;
    check(tier.policy === 'lru' || tier.policy === 'lfu', 'tier policy must be lru or lfu');
    check(Number.isInteger(tier.maxEntries) && tier.maxEntries > 0, 'tier maxEntries must be a positive integer');
    check(Number.isFinite(tier.maxBytes) && tier.maxBytes > 0, 'tier maxBytes must be positive');
  }
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
