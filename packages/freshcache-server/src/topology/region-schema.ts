import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { MaxStaleMsSchema, NegativeTtlMsSchema, StrategySchema, StringEnum, TierBoundsSchema, TtlMsSchema } from 'freshcache';

/**
 * A region's settings, as the config file and `PATCH /api/regions/:name` take them: the library's
 * cache settings (strategy, TTL, stale window, tier bounds, with their limits) plus the topology's
 * own (delay, jitter, mode). One schema, so both doors refuse the same values.
 */

/** The longest simulated propagation delay: ten minutes. */
export const MAX_DELAY_MS = 600_000;

export const FreshnessModeSchema = StringEnum(['cdc', 'ttl'], "cdc: the origin's changes invalidate; ttl: entries only expire");

export const RegionSettingsSchema = Type.Object(
  {
    delayMs: Type.Number({ minimum: 0, maximum: MAX_DELAY_MS, description: 'simulated propagation delay of invalidations to the region' }),
    jitter: Type.Number({ minimum: 0, maximum: 1, description: 'random spread of the delay, as a fraction of it' }),
    strategy: StrategySchema,
    mode: FreshnessModeSchema,
    /** The region's cache's defaultTtlMs, under the same limit. */
    ttlMs: TtlMsSchema,
    maxStaleMs: MaxStaleMsSchema,
    /** The region's cache's negativeTtlMs, under the same limit. */
    negativeTtlMs: NegativeTtlMsSchema,
  },
  { additionalProperties: false },
);
export type RegionSettings = Static<typeof RegionSettingsSchema>;

/** `PATCH /api/regions/:name`: any of the settings, at least one. */
export const RegionPatchSchema = Type.Partial(RegionSettingsSchema, { additionalProperties: false, minProperties: 1 });
export type RegionPatch = Static<typeof RegionPatchSchema>;

/** A region in the config file: its name, any of its settings, and its tiers' bounds. */
export const RegionInputSchema = Type.Object(
  {
    name: Type.String(),
    ...Type.Partial(RegionSettingsSchema).properties,
    l1: Type.Optional(TierBoundsSchema),
    l2: Type.Optional(TierBoundsSchema),
  },
  { additionalProperties: false },
);
export type RegionInput = Static<typeof RegionInputSchema>;
