import { expect, it } from 'vitest';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { LogFollower } from '../../packages/freshcache/src/engine/log-follower.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';
import type { GapInfo, InvalidationEvent, InvalidationLog } from '../../packages/freshcache/src/seams/invalidation-log.js';

const event = (id: number, epoch: number): InvalidationEvent => ({ kind: 'invalidate', v: 1, keys: [`new${id}`], tags: [], prefixes: [], source: 'cdc', committedAt: 0, publishedAt: 0, id, epoch });

/**
 * A log whose newest id was 10 when the follower asked, and which then moved back: it hands the
 * reader an epoch gap and the new epoch's events 6..8, and nothing reaches id 10 again.
 */
function movedBackLog(): InvalidationLog {
  return {
    lastId: async () => 10,
    subscribe: ({ onEvent, onGap }) => {
      queueMicrotask(() => {
        onGap?.({ reason: 'epoch', afterId: 5, oldestRetainedId: 0 } satisfies GapInfo);
        for (const id of [6, 7, 8]) onEvent(event(id, 1_000));
      });
      return { close: async () => {} };
    },
    consume: async () => ({ close: async () => {} }),
    publish: () => Promise.reject(new Error('not used')),
    publishMany: () => Promise.reject(new Error('not used')),
    close: async () => {},
  };
}

it('a cache sharing its L2 that meets an epoch gap while catching up at start flushes ("log epoch"), finishes starting though the log never reaches the id it was catching up to, and refuses the shared entries written before', async () => {
  const clock = new ManualClock();
  const l2 = new MemoryStore({ name: 'l2', clock, shared: true });
  const writer = new TieredCache({ name: 'writer', clock, l1: new MemoryStore({ name: 'l1', clock }), l2, defaultTtlMs: 60_000 });
  // Written by a node dated at id 9 of the lost history.
  await writer.set('k', 'old', { position: 9 });
  const cache = new TieredCache({ name: 'node', clock, l1: new MemoryStore({ name: 'l1', clock }), l2, defaultTtlMs: 60_000 });
  const flushes: string[] = [];
  const follower = new LogFollower({ cache, log: movedBackLog(), region: 'eu', onFlushed: (reason) => flushes.push(reason) });
  const started = follower.start().then(() => 'started');
  // Every promise the start chains settles before the next turn of the event loop.
  const stuck = new Promise<string>((resolve) => setTimeout(() => setImmediate(() => resolve('still catching up')), 0));
  expect(await Promise.race([started, stuck])).toBe('started');
  expect(flushes).toEqual(['log epoch']);
  expect((await cache.describe('k'))?.state).not.toBe('fresh');
  await follower.stop();
});
