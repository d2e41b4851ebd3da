import { Kind, Type, TypeRegistry } from '@sinclair/typebox';
import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { FreshcacheError } from './errors.js';

/**
 * The one set of limits for a cache's settings: createCache, the TieredCache constructor, the
 * server's config file and `PATCH /api/regions` all check against the schemas below (TypeBox:
 * JSON Schema that ajv compiles, with the TypeScript types inferred from it).
 */
export const CACHE_LIMITS = Object.freeze({
  /** The longest any TTL, stale window or not-found memory may be: a day. */
  maxTtlMs: 86_400_000,
  /** The longest a load may be waited for: ten minutes (timers past 2^31 ms would fire at once). */
  maxLoadTimeoutMs: 600_000,
  /** Keys are ids, not payloads; the HTTP path and the Redis key both carry them. */
  maxKeyBytes: 65_536,
  /** Redis's largest string (512 MiB). */
  maxValueBytes: 512 * 1024 * 1024,
  /** lru-cache sizes its index for the maximum up front. */
  maxEntries: 10_000_000,
});

/** What a cache uses for a setting left out. */
export const CACHE_DEFAULTS = Object.freeze({
  strategy: 'eager' as 'eager' | 'lazy',
  maxStaleMs: 30_000,
  defaultTtlMs: 300_000,
  maxTtlMs: 86_400_000,
  loadTimeoutMs: 10_000,
  maxKeyBytes: 512,
  maxValueBytes: 1024 * 1024,
  negativeTtlMs: 5_000,
});

const ENUM_KIND = 'freshcache:StringEnum';
// A `{ enum: [...] }` keyword (not TypeBox's anyOf of consts), so ajv says "must be one of ...".
TypeRegistry.Set(ENUM_KIND, (schema: { enum: readonly unknown[] }, value) => schema.enum.includes(value));
/** A string of a fixed set, as a JSON Schema `enum` that TypeBox's Value checks too. */
export function StringEnum<const T extends readonly string[]>(values: T, description: string) {
  return Type.Unsafe<T[number]>({ [Kind]: ENUM_KIND, type: 'string', enum: values, description });
}

export const StrategySchema = StringEnum(['eager', 'lazy'], 'eager drops an invalidated entry; lazy serves it STALE for up to maxStaleMs');
export const EvictionPolicySchema = StringEnum(['lru', 'lfu'], 'which entry a full tier evicts');

/** A TTL: more than 0, at most a day. */
export const TtlMsSchema = Type.Number({ exclusiveMinimum: 0, maximum: CACHE_LIMITS.maxTtlMs });
export const MaxStaleMsSchema = Type.Number({
  minimum: 0,
  maximum: CACHE_LIMITS.maxTtlMs,
  description: 'lazy strategy: how long an invalidated entry may still be served STALE',
});

/** How long a loader's `not_found` is remembered: 0 (off) to a day. */
export const NegativeTtlMsSchema = Type.Number({ minimum: 0, maximum: CACHE_LIMITS.maxTtlMs, description: "how long a loader's not_found is remembered; 0 turns it off" });

/** The bounds of a built-in in-process tier (a MemoryStore). */
export const TierBoundsSchema = Type.Object(
  {
    policy: Type.Optional(EvictionPolicySchema),
    maxEntries: Type.Optional(Type.Integer({ minimum: 1, maximum: CACHE_LIMITS.maxEntries })),
    maxBytes: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type TierBounds = Static<typeof TierBoundsSchema>;

/** The settings a live cache may change (`configure`; a region's `PATCH`): strategy, TTL, windows and timeout. */
export const LiveSettingsSchema = Type.Object({
  strategy: Type.Optional(StrategySchema),
  maxStaleMs: Type.Optional(MaxStaleMsSchema),
  defaultTtlMs: Type.Optional(TtlMsSchema),
  /** How long a loader's `not_found` is remembered; 0 turns it off. */
  negativeTtlMs: Type.Optional(NegativeTtlMsSchema),
  loadTimeoutMs: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: CACHE_LIMITS.maxLoadTimeoutMs })),
});
export type LiveSettings = Static<typeof LiveSettingsSchema>;

/**
 * A cache's settings: the data part of its options. Stores, clocks and callbacks are not data,
 * and stay plain TypeScript types beside it (CreateCacheOptions, TieredCacheOptions).
 */
export const CacheSettingsSchema = Type.Object({
  ...LiveSettingsSchema.properties,
  /** The cap of every TTL; defaultTtlMs and negativeTtlMs must not exceed it. */
  maxTtlMs: Type.Optional(TtlMsSchema),
  maxKeyBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: CACHE_LIMITS.maxKeyBytes })),
  maxValueBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: CACHE_LIMITS.maxValueBytes })),
});
export type CacheSettingsInput = Static<typeof CacheSettingsSchema>;

/** What checkCacheOptions reads: the settings, and the l1 bounds when l1 is not a store of the caller's. */
export const CacheOptionsSchema = Type.Object({ ...CacheSettingsSchema.properties, l1: Type.Optional(TierBoundsSchema) });

/**
 * Throws a `bad_request` FreshcacheError naming the first setting that breaks the schema, and the
 * limit it breaks. Keys the schema does not name (stores, clocks, callbacks) are not looked at.
 */
export function checkCacheOptions(options: object, subject = 'cache options'): void {
  const settings: Record<string, unknown> = {};
  for (const name of Object.keys(CacheOptionsSchema.properties)) {
    const value = (options as Record<string, unknown>)[name];
    // An l1 given as a store is the caller's own; only bounds are checked.
    if (value === undefined || (name === 'l1' && isStoreLike(value))) continue;
    settings[name] = value;
  }
  checkAgainst(CacheOptionsSchema, settings, subject);
  const { defaultTtlMs, negativeTtlMs, maxTtlMs = CACHE_DEFAULTS.maxTtlMs } = settings as CacheSettingsInput;
  // The default TTL too: a maxTtlMs below it would refuse every fill that names no TTL.
  if ((defaultTtlMs ?? CACHE_DEFAULTS.defaultTtlMs) > maxTtlMs) {
    const got = defaultTtlMs ?? `the default ${CACHE_DEFAULTS.defaultTtlMs}`;
    throw new FreshcacheError('bad_request', `${subject}: /defaultTtlMs must be at most maxTtlMs (${maxTtlMs}), got ${got}`);
  }
  // Its default too: a cache that took one over maxTtlMs would refuse every configure() after.
  if ((negativeTtlMs ?? CACHE_DEFAULTS.negativeTtlMs) > maxTtlMs) {
    const got = negativeTtlMs ?? `the default ${CACHE_DEFAULTS.negativeTtlMs}`;
    throw new FreshcacheError('bad_request', `${subject}: /negativeTtlMs must be at most maxTtlMs (${maxTtlMs}), got ${got}`);
  }
}

/** Checks `value` against a schema of this module (or one built from them); throws a coded error naming the path and the limit. */
export function checkAgainst(schema: TSchema, value: unknown, subject: string): void {
  const error = Value.Errors(schema, value).First();
  if (error === undefined) return;
  const path = error.path || '/';
  throw new FreshcacheError('bad_request', `${subject}: ${path} ${expectation(error.schema, error.message)}, got ${show(error.value)}`);
}

/** "must be a number over 0 and at most 86400000": the whole range, which TypeBox's message gives one end of. */
function expectation(schema: TSchema, fallback: string): string {
  if (Array.isArray(schema.enum)) return `must be one of ${schema.enum.join(', ')}`;
  if (schema.type !== 'number' && schema.type !== 'integer') return fallback.replace(/^Expected/, 'must be');
  const bounds: string[] = [];
  if (schema.exclusiveMinimum !== undefined) bounds.push(`over ${schema.exclusiveMinimum}`);
  if (schema.minimum !== undefined) bounds.push(`at least ${schema.minimum}`);
  if (schema.maximum !== undefined) bounds.push(`at most ${schema.maximum}`);
  return `must be ${schema.type === 'integer' ? 'an integer' : 'a number'}${bounds.length > 0 ? ` ${bounds.join(' and ')}` : ''}`;
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' && value !== null ? JSON.stringify(value).slice(0, 80) : String(value);
}

function isStoreLike(value: unknown): boolean {
  return typeof (value as { read?: unknown }).read === 'function';
}
