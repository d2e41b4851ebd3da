import { describe, expect, it } from 'vitest';
import { zipfSampler } from '../../packages/freshcache-server/src/tools/zipf.js';

/** A seeded generator so the distribution check is repeatable. */
function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('zipfSampler', () => {
  it('stays in range and makes low ranks hot in proportion to 1/k^s', () => {
    const sample = zipfSampler(100, 1, seeded(42));
    const counts = new Array(101).fill(0);
    for (let i = 0; i < 100_000; i++) counts[sample()]++;
    expect(counts[0]).toBe(0);
    expect(counts.slice(1).reduce((a, b) => a + b, 0)).toBe(100_000);
    // P(1)/P(2) = 2 and P(1)/P(10) = 10 for s = 1; allow sampling noise.
    expect(counts[1] / counts[2]).toBeGreaterThan(1.8);
    expect(counts[1] / counts[2]).toBeLessThan(2.2);
    expect(counts[1] / counts[10]).toBeGreaterThan(8.5);
    expect(counts[1] / counts[10]).toBeLessThan(11.5);
  });
});
