import { describe, expect, it } from 'vitest';
import { RecentWindow } from '../../packages/freshcache-server/src/observability/recent-window.js';

describe('RecentWindow', () => {
  it('gives nearest-rank percentiles of what it holds, scaled', () => {
    const window = new RecentWindow(1000);
    for (let i = 100; i >= 1; i--) window.observe(i / 1000); // 1..100 ms, in seconds, out of order
    expect(window.percentiles()).toEqual({ count: 100, p50: 50, p90: 90, p95: 95, p99: 99 });
  });

  it('keeps only the newest samples once full', () => {
    const window = new RecentWindow(4);
    for (const v of [100, 100, 100, 100, 1, 2, 3, 4]) window.observe(v);
    expect(window.percentiles(1)).toEqual({ count: 8, p50: 2, p90: 4, p95: 4, p99: 4 });
  });

  it('is empty before any observation', () => {
    expect(new RecentWindow().percentiles()).toEqual({ count: 0, p50: null, p90: null, p95: null, p99: null });
  });
});
