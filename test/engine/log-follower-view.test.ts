import { describe, expect, it } from 'vitest';
import { MemoryLog } from '../../packages/freshcache/src/adapters/memory/memory-log.js';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { LogFollower } from '../../packages/freshcache/src/engine/log-follower.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';
import type { InvalidationEvent } from '../../packages/freshcache/src/seams/invalidation-log.js';

/**
 * A view of a region from a process that does not serve it (`joinGroup: false`): it follows the
 * log to judge the region's shared entries, and never takes the region's consumer-group events,
 * which would apply them to the shared L2 from the wrong place and keep them from the region's nodes.
 */
describe('a log follower that does not join its region\'s group', () => {
  it('judges a shared entry a later invalidation made stale as invalid, and leaves the entry in L2 to the region', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const l2 = new MemoryStore({ name: 'l2', clock, shared: true });
    const node = new TieredCache({ name: 'node', clock, l1: new MemoryStore({ name: 'l1', clock }), l2, defaultTtlMs: 60_000 });
    const first = await log.publish({ kind: 'invalidate', v: 1, source: 'purge', keys: ['other'], tags: [], prefixes: [], committedAt: clock.now() });
    // The region's node wrote these, dated at the first event.
    await node.set('k', 'v', { position: first.id });
    await node.set('t', 'w', { position: first.id, tags: ['news'] });

    const view = new TieredCache({ name: 'view', clock, l1: new MemoryStore({ name: 'l1', clock }), l2, defaultTtlMs: 60_000 });
    const seen: number[] = [];
    let waiting: { id: number; resolve: () => void } | undefined;
    const follower = new LogFollower({
      cache: view,
      log,
      region: 'eu',
      joinGroup: false,
      onApplied: (event: InvalidationEvent) => {
        seen.push(event.id);
        if (waiting && event.id >= waiting.id) waiting.resolve();
      },
    });
    const applied = (id: number) => (seen.some((s) => s >= id) ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { id, resolve })));
    await follower.start();
    try {
      expect((await view.describe('k'))?.state).toBe('fresh');
      expect((await view.describe('t'))?.state).toBe('fresh');

      const byKey = await log.publish({ kind: 'invalidate', v: 1, source: 'purge', keys: ['k'], tags: [], prefixes: [], committedAt: clock.now() });
      const byTag = await log.publish({ kind: 'invalidate', v: 1, source: 'purge', keys: [], tags: ['news'], prefixes: [], committedAt: clock.now() });
      await applied(byTag.id);
      expect(byTag.id).toBeGreaterThan(byKey.id);
      expect((await view.describe('k'))?.state).toBe('invalid');
      expect((await view.describe('t'))?.state).toBe('invalid');
      // No member of the group here: the keys stay in L2 until the region's nodes apply the events.
      expect((await l2.get('k'))?.value).toBe('v');
      expect((await l2.get('t'))?.value).toBe('w');
    } finally {
      await follower.stop();
    }
  });
});
