import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../packages/freshcache-server/src/config.js';

describe('resolveConfig', () => {
  it('fills in the demo regions and defaults, and freezes the result', () => {
    const config = resolveConfig();
    expect(config.regions.map((r) => [r.name, r.delayMs, r.jitter, r.strategy, r.mode])).toEqual([
      ['us-east', 100, 0.1, 'eager', 'cdc'],
      ['eu-west', 300, 0.1, 'eager', 'cdc'],
      ['ap-south', 600, 0.1, 'eager', 'cdc'],
    ]);
    expect(config.limits).toMatchObject({ maxKeyBytes: 512, maxValueBytes: 1024 * 1024 });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.regions[0]!.l1)).toBe(true);
  });

  it('takes custom regions with their own strategy and tiers', () => {
    const config = resolveConfig({ regions: [{ name: 'mars', delayMs: 1200, strategy: 'lazy', l1: { policy: 'lfu' } }] });
    expect(config.regions[0]).toMatchObject({ name: 'mars', delayMs: 1200, strategy: 'lazy', l1: { policy: 'lfu', maxEntries: 10_000 } });
  });

  it.each([
    [{ port: 70000 }, /port/],
    [{ regions: [] }, /at least one region/],
    [{ regions: [{ name: 'a' }, { name: 'a' }] }, /named twice/],
    [{ regions: [{ name: 'Bad Name' }] }, /region name/],
    [{ regions: [{ name: 'a', delayMs: -1 }] }, /delayMs/],
    [{ regions: [{ name: 'a', jitter: 2 }] }, /jitter/],
    [{ regions: [{ name: 'a', strategy: 'sometimes' as never }] }, /strategy/],
    [{ regions: [{ name: 'a', l1: { maxEntries: 0 } }] }, /maxEntries/],
  ])('refuses %j with a clear message', (input, message) => {
    expect(() => resolveConfig(input)).toThrow(message);
  });
});
