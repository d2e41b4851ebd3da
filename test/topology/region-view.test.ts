import { describe, expect, it } from 'vitest';
import { RedisStreamLog } from '../../packages/freshcache/src/adapters/redis/redis-stream-log.js';
import { MemoryLog } from '../../packages/freshcache/src/adapters/memory/memory-log.js';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';
import type { InvalidationInput } from '../../packages/freshcache/src/seams/invalidation-log.js';
import { resolveRegion } from '../../packages/freshcache-server/src/config.js';
import type { RegionConfig } from '../../packages/freshcache-server/src/topology/region.js';
import { RegionView } from '../../packages/freshcache-server/src/topology/region-view.js';
import { redisForFile } from '../testkit/redis-server.js';

const redis = redisForFile();

/**
 * A region view over a shared L2 that a node of the region filled, with a fake clock. The log
 * delivers at once and a view applies an event's marks as it receives it, so each check follows
 * its publish directly.
 */
async function setUp(region: Partial<RegionConfig> = {}) {
  const clock = new ManualClock();
  const log = new MemoryLog({ clock });
  const l2 = new MemoryStore({ name: 'l2', clock, shared: true });
  const node = new TieredCache({ name: 'node', clock, l1: new MemoryStore({ name: 'l1', clock }), l2, defaultTtlMs: 300_000 });
  const publish = (input: Partial<InvalidationInput>) => log.publish({ kind: 'invalidate', v: 1, source: 'purge', keys: [], tags: [], prefixes: [], committedAt: clock.now(), ...input });
  const first = await publish({ keys: ['other'] });
  await node.set('k', 'v', { position: first.id, ttlMs: 300_000 });
  const view = new RegionView(resolveRegion({ name: 'eu', ttlMs: 300_000, ...region }), { clock, log, l2 });
  await view.start();
  return { clock, l2, view, publish };
}

const stateOf = async (view: RegionView, key: string) => (await view.scan({ limit: 10 })).items.find((item) => item.key === key)?.state;

describe('RegionView', () => {
  it("keeps judging the region's entries by their marks for the region's TTL, as its nodes do, not refusing them after a minute", async () => {
    const { clock, view, publish } = await setUp();
    try {
      await publish({ keys: ['x'] });
      clock.advance(61_000);
      await publish({ keys: ['y'] }); // a minute on: the view prunes the marks it no longer needs
      expect(await view.lookup('k')).toMatchObject({ value: 'v', state: 'HIT', tier: 'l2' });
      expect(await stateOf(view, 'k')).toBe('fresh');
      await publish({ keys: ['k'] });
      expect(await view.lookup('k')).toBeUndefined();
      expect(await stateOf(view, 'k')).toBe('invalid');
    } finally {
      await view.close();
    }
  });

  it('skips the origin\'s changes in a ttl-mode region, as its nodes do, and still applies a purge', async () => {
    const { view, l2, publish } = await setUp({ mode: 'ttl' });
    try {
      await publish({ source: 'cdc', keys: ['k'] });
      expect(await view.lookup('k')).toMatchObject({ state: 'HIT' });
      await publish({ source: 'purge', keys: ['k'] });
      expect(await view.lookup('k')).toBeUndefined();
      // Judged, not reclaimed: the entry is the region's to delete.
      expect(await l2.get('k')).toBeDefined();
    } finally {
      await view.close();
    }
  });

  it('closes while it still catches up (the log names events it cannot read yet), ending its start', async () => {
    const namespace = 'catch-up:';
    // The log says it reached event 5, but no event is there to read: the replay waits for it.
    await redis().client.set(`${namespace}{log}:last`, '5');
    const log = new RedisStreamLog({ redis: redis().client, namespace, blockMs: 50 });
    const view = new RegionView(resolveRegion({ name: 'eu' }), { clock: new ManualClock(), log, l2: new MemoryStore({ name: 'l2', shared: true }) });
    try {
      const started = view.start(); // never caught up: no event 5 will come
      await view.close();
      await expect(started).rejects.toMatchObject({ code: 'node_draining' });
    } finally {
      await view.close();
      await log.close();
    }
  });
});
