import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../packages/freshcache-server/src/config-file.js';
import { resolveConfig } from '../../packages/freshcache-server/src/config.js';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { CACHE_DEFAULTS, CACHE_LIMITS, checkCacheOptions } from '../../packages/freshcache/src/engine/cache-options-schema.js';
import { FreshcacheError } from '../../packages/freshcache/src/engine/errors.js';
import { DEFAULTS } from '../../packages/freshcache/src/index.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { expectError, sharedApp } from '../http/http-kit.js';

/**
 * One schema for a cache's settings: createCache, the config file and PATCH /api/regions refuse
 * the same out-of-range value, and accept the same maximum. A region's `ttlMs` is its cache's
 * `defaultTtlMs`; `delayMs` belongs to a region only.
 */
const SETTINGS = [
  { region: 'ttlMs', library: 'defaultTtlMs', max: CACHE_LIMITS.maxTtlMs },
  { region: 'maxStaleMs', library: 'maxStaleMs', max: CACHE_LIMITS.maxTtlMs },
  { region: 'delayMs', library: undefined, max: 600_000 },
  { region: 'negativeTtlMs', library: 'negativeTtlMs', max: CACHE_LIMITS.maxTtlMs },
] as const;

/** The FreshcacheError `run` throws (failing the test if it throws none, or something else). */
function caught(run: () => unknown): FreshcacheError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FreshcacheError);
    return error as FreshcacheError;
  }
  throw new Error('expected a FreshcacheError, but nothing was thrown');
}

/** The TieredCache constructor and its configure(), the library's other two doors. */
const engine = (settings: Record<string, number> = {}) => new TieredCache({ l1: new MemoryStore({ name: 'l1' }), ...settings });

const configFile = (setting: string, value: number) =>
  resolveConfig(parseConfig(JSON.stringify({ regions: [{ name: 'us-east', [setting]: value }] }), {}, 'freshcache.json'));

describe('the four doors agree on the limits of a cache\'s settings', () => {
  let server: Awaited<ReturnType<typeof sharedApp>>;
  beforeAll(async () => {
    server = await sharedApp();
  });
  afterAll(() => server.close());

  const patch = (setting: string, value: number) =>
    server.app.inject({ method: 'PATCH', url: '/api/regions/us-east', payload: { [setting]: value } });

  for (const { region, library, max } of SETTINGS) {
    const name = region ?? library;
    it(`${name}: one over ${max} is refused by every door that takes it, naming the setting and the limit`, async () => {
      if (library !== undefined) {
        for (const open of [() => createCache({ [library]: max + 1 }), () => engine({ [library]: max + 1 }), () => engine().configure({ [library]: max + 1 })]) {
          const error = caught(open);
          expect(error.code).toBe('bad_request');
          expect(error.message).toContain(`/${library}`);
          expect(error.message).toContain(String(max));
        }
      }
      if (region !== undefined) {
        const error = caught(() => configFile(region, max + 1));
        expect(error.code).toBe('bad_request');
        expect(error.message).toMatch(new RegExp(`^freshcache\\.json is invalid: /regions/0/${region} must be <= ${max}`));
        const res = await patch(region, max + 1);
        expectError(res, 400, 'bad_request');
        expect(res.json<{ error: { message: string } }>().error.message).toMatch(new RegExp(`${region} must be <= ${max}`));
      }
    });

    it(`${name}: exactly ${max} is accepted by every door that takes it`, async () => {
      if (library !== undefined) {
        await createCache({ [library]: max }).close();
        expect(engine({ [library]: max })).toBeInstanceOf(TieredCache);
        engine().configure({ [library]: max });
      }
      if (region !== undefined) {
        expect(configFile(region, max).regions[0]![region]).toBe(max);
        const res = await patch(region, max);
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json()).toMatchObject({ [region]: max });
      }
    });
  }

  it('ttlMs and maxStaleMs below their minimum are refused by every door too', async () => {
    for (const [region, library, value] of [['ttlMs', 'defaultTtlMs', 0], ['maxStaleMs', 'maxStaleMs', -1]] as const) {
      expect(caught(() => createCache({ [library]: value })).message).toContain(`/${library}`);
      expect(caught(() => configFile(region, value)).message).toContain(`/regions/0/${region}`);
      expectError(await patch(region, value), 400, 'bad_request');
    }
  });
});

describe('checkCacheOptions', () => {
  it('names the path and the whole range of the first setting out of it', () => {
    expect(caught(() => checkCacheOptions({ defaultTtlMs: 86_400_001 }, 'my cache')).message).toBe(
      'my cache: /defaultTtlMs must be a number over 0 and at most 86400000, got 86400001',
    );
    expect(caught(() => checkCacheOptions({ l1: { maxEntries: 1.5 } })).message).toBe(
      `cache options: /l1/maxEntries must be an integer at least 1 and at most ${CACHE_LIMITS.maxEntries}, got 1.5`,
    );
    expect(caught(() => checkCacheOptions({ strategy: 'sometimes' })).message).toBe('cache options: /strategy must be one of eager, lazy, got "sometimes"');
    expect(caught(() => checkCacheOptions({ loadTimeoutMs: Number.NaN })).message).toMatch(/^cache options: \/loadTimeoutMs must be a number over 0 and at most 600000/);
  });

  it('refuses a TTL over maxTtlMs, the default TTL included, and a not-found memory over it', () => {
    expect(caught(() => checkCacheOptions({ maxTtlMs: 10_000, defaultTtlMs: 10_001 })).message).toMatch(/\/defaultTtlMs must be at most maxTtlMs \(10000\), got 10001/);
    expect(caught(() => checkCacheOptions({ maxTtlMs: 10_000 })).message).toMatch(/\/defaultTtlMs must be at most maxTtlMs \(10000\), got the default 300000/);
    expect(caught(() => checkCacheOptions({ maxTtlMs: 10_000, defaultTtlMs: 10_000, negativeTtlMs: 10_001 })).message).toMatch(/\/negativeTtlMs must be at most maxTtlMs/);
    expect(() => checkCacheOptions({ maxTtlMs: 10_000, defaultTtlMs: 10_000, negativeTtlMs: 10_000 })).not.toThrow();
  });

  it('looks only at settings: a store given as l1, a clock and callbacks pass as they are', () => {
    const l1 = new MemoryStore({ name: 'l1', maxEntries: 10 });
    expect(() => checkCacheOptions({ l1, clock: {}, onRevalidateError: () => {} })).not.toThrow();
    expect(() => createCache({ l1 })).not.toThrow();
  });

  it('the defaults it judges by are the engine\'s', () => {
    expect(CACHE_DEFAULTS).toEqual({ ...DEFAULTS });
  });
});
