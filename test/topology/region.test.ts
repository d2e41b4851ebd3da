import { describe, expect, it } from 'vitest';
import { MemoryLog } from '../../packages/freshcache/src/adapters/memory/memory-log.js';
import { resolveRegion } from '../../packages/freshcache-server/src/config.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';
import type { GapInfo, InvalidationInput } from '../../packages/freshcache/src/seams/invalidation-log.js';
import { EVENT_FORMAT_VERSION } from '../../packages/freshcache/src/seams/invalidation-log.js';
import { Region } from '../../packages/freshcache-server/src/topology/region.js';

describe('Region', () => {
  it('applies each event after its delay ± jitter, and records when', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const applied: number[] = [];
    // random() = 1 → the top of the jitter band: 100 ms + 10%.
    const region = new Region(resolveRegion({ name: 'r', delayMs: 100, jitter: 0.1 }), {
      clock,
      log,
      random: () => 1,
      onApplied: (a) => applied.push(a.appliedAt - a.event.publishedAt),
    });
    await region.start();
    await region.cache.set('k', 1);
    await log.publish({ kind: 'invalidate', v: 1, keys: ['k'], tags: [], prefixes: [], source: 'purge', committedAt: clock.now() });
    await clock.advanceAsync(109);
    expect(await region.cache.get('k')).toBe(1);
    await clock.advanceAsync(1);
    expect(await region.cache.get('k')).toBeUndefined();
    expect(applied).toEqual([110]);
  });

  it('applies events in log order even when jitter would reorder them', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const applied: number[] = [];
    let draw = 0;
    // The first event draws the top of the band (110 ms), the second the bottom (90 ms).
    const region = new Region(resolveRegion({ name: 'r', delayMs: 100, jitter: 0.1 }), {
      clock,
      log,
      random: () => (draw++ === 0 ? 1 : 0),
      onApplied: (a) => applied.push(a.event.id),
    });
    await region.start();
    const first = await log.publish({ kind: 'invalidate', v: 1, keys: ['a'], tags: [], prefixes: [], source: 'purge', committedAt: 0 });
    await clock.advanceAsync(1);
    const second = await log.publish({ kind: 'invalidate', v: 1, keys: ['b'], tags: [], prefixes: [], source: 'purge', committedAt: 0 });
    await clock.advanceAsync(200);
    expect(applied).toEqual([first.id, second.id]);
    expect(region.cache.position).toBe(second.id);
  });

  it('stops without waiting for events still on their way, and never applies them', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const errors: unknown[] = [];
    const region = new Region(resolveRegion({ name: 'r', delayMs: 600 }), { clock, log, onError: (e) => errors.push(e) });
    await region.start();
    await region.cache.set('k', 1);
    await log.publish({ kind: 'invalidate', v: 1, keys: ['k'], tags: [], prefixes: [], source: 'purge', committedAt: 0 });
    await region.stop(); // resolves with the clock standing still: nothing waits for the delay
    await clock.advanceAsync(1_000);
    expect(await region.cache.get('k')).toBe(1);
    expect(errors).toEqual([]); // a cancelled apply is not an error
  });

  it('a node sharing its L2 replays the retained log at start without a flush, and refuses entries older than it', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock, retain: 2 });
    const l2 = new MemoryStore({ name: 'l2', clock, shared: true });
    const writer = new TieredCache({ clock, l1: new MemoryStore({ clock }), l2 });
    await writer.set('old', 'written at position 0');
    for (let i = 0; i < 5; i++) await log.publish({ kind: 'invalidate', v: 1, keys: [`x${i}`], tags: [], prefixes: [], source: 'purge', committedAt: 0 });
    const flushes: string[] = [];
    const region = new Region(resolveRegion({ name: 'r', delayMs: 0 }), { clock, log, l2, onFlushed: (_n, why) => flushes.push(why) });
    await region.start();
    expect(flushes).toEqual([]);
    expect(region.cache.position).toBe(5);
    expect(await region.cache.lookup('old')).toBeUndefined(); // events 1-3 are gone: it cannot be judged
    await region.stop();
  });

  it('a node cut off from the log flushes, and distrusts the shared L2 until the log reaches it again', async () => {
    const clock = new ManualClock();
    const gaps: ((info: GapInfo) => void)[] = [];
    const log = new (class extends MemoryLog {
      override subscribe(options: Parameters<MemoryLog['subscribe']>[0]) {
        if (options.onGap) gaps.push(options.onGap);
        return super.subscribe(options);
      }
    })({ clock });
    const l2 = new MemoryStore({ name: 'l2', clock, shared: true });
    const other = new TieredCache({ clock, l1: new MemoryStore({ clock }), l2 });
    const region = new Region(resolveRegion({ name: 'r', delayMs: 0 }), { clock, log, l2 });
    await region.start();
    await other.set('k', 'v');
    expect((await region.cache.lookup('k'))?.value).toBe('v');
    for (const onGap of gaps) onGap({ reason: 'disconnected', afterId: 0, oldestRetainedId: 0 });
    await clock.advanceAsync(0);
    expect(await region.cache.lookup('k')).toBeUndefined(); // flushed L1, and L2 is not trusted either
    const next = await log.publish({ kind: 'invalidate', v: 1, keys: ['x'], tags: [], prefixes: [], source: 'purge', committedAt: 0 });
    await clock.advanceAsync(0);
    expect(region.cache.position).toBe(next.id);
    await other.invalidate({ keys: ['x'] }, { position: next.id });
    await other.set('k', 'v2'); // written after the node is back in step
    expect((await region.cache.lookup('k'))?.value).toBe('v2');
    await region.stop();
  });

  it('ignores CDC events in ttl mode but applies explicit purges', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const region = new Region(resolveRegion({ name: 'r', delayMs: 0, mode: 'ttl' }), { clock, log });
    await region.start();
    await region.cache.set('content:1', 'old');
    await region.cache.set('page', 'p');
    await log.publish({ kind: 'invalidate', v: 1, keys: ['content:1'], tags: [], prefixes: [], source: 'cdc', version: 2, committedAt: 0 });
    await log.publish({ kind: 'invalidate', v: 1, keys: ['page'], tags: [], prefixes: [], source: 'purge', committedAt: 0 });
    await clock.advanceAsync(0);
    expect(await region.cache.get('content:1')).toBe('old');
    expect(await region.cache.get('page')).toBeUndefined();
  });

  it('flushes on an event of a kind or format version it does not know, says why, and applies later events', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const flushes: { reason: string; detail?: string }[] = [];
    const applied: number[] = [];
    const region = new Region(resolveRegion({ name: 'r', delayMs: 100, jitter: 0 }), {
      clock,
      log,
      onFlushed: (_name, reason, detail) => flushes.push({ reason, detail }),
      onApplied: (a) => applied.push(a.event.id),
    });
    await region.start();
    const purge = { keys: ['named'], tags: [], prefixes: [], source: 'purge' as const, committedAt: 0 };
    // What a newer node may write during a rolling upgrade: a kind, then a format, this code does not know.
    const newerKind = { ...purge, kind: 'rename', v: 1 } as unknown as InvalidationInput;
    const newerFormat: InvalidationInput = { ...purge, kind: 'invalidate', v: EVENT_FORMAT_VERSION + 1 };
    const cases = [
      [newerKind, 'unknown event kind "rename"'],
      [newerFormat, `unknown event format v${EVENT_FORMAT_VERSION + 1}`],
    ] as const;
    for (const [input, why] of cases) {
      await region.cache.set('named', 1);
      await region.cache.set('other', 2);
      const event = await log.publish(input);
      await clock.advanceAsync(100);
      expect(await region.cache.get('other')).toBeUndefined(); // everything, not only what it names
      expect(flushes.at(-1)).toEqual({ reason: 'unknown event', detail: expect.stringContaining(why) });
      expect(applied.at(-1)).toBe(event.id);
      expect(region.cache.position).toBe(event.id);
    }
    expect(flushes).toHaveLength(2);
    await region.cache.set('named', 3);
    await region.cache.set('kept', 4);
    const later = await log.publish({ ...purge, kind: 'invalidate', v: 1 });
    await clock.advanceAsync(100);
    expect(await region.cache.get('named')).toBeUndefined();
    expect(await region.cache.get('kept')).toBe(4);
    expect(flushes).toHaveLength(2);
    expect(applied.at(-1)).toBe(later.id);
    await region.stop();
  });

  it('drops everything on an event that asks it to (changes lost upstream), and reports the event\'s reason as its flush', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const flushes: string[] = [];
    const region = new Region(resolveRegion({ name: 'r', delayMs: 100, jitter: 0 }), {
      clock,
      log,
      onFlushed: (_name, reason) => flushes.push(reason),
    });
    await region.start();
    await region.cache.set('a', 1);
    await region.cache.set('b', 2);
    await log.publish({ kind: 'invalidate', v: 2, keys: [], tags: [], prefixes: [], all: true, reason: 'capture lost', source: 'cdc', committedAt: 0 });
    await clock.advanceAsync(100);
    expect(await region.cache.get('a')).toBeUndefined();
    expect(await region.cache.get('b')).toBeUndefined();
    expect(flushes).toEqual(['capture lost']);
    await region.stop();
  });

  it('a node sharing its L2 refuses the entries written before an event it cannot read, at start and live, and trusts those written after', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const l2 = new MemoryStore({ name: 'l2', clock, shared: true });
    const writer = new TieredCache({ clock, l1: new MemoryStore({ clock }), l2 });
    const purge = { keys: ['x'], tags: [], prefixes: [], source: 'purge' as const, committedAt: 0 };
    const newer: InvalidationInput = { ...purge, kind: 'invalidate', v: EVENT_FORMAT_VERSION + 1 };
    const first = await log.publish({ ...purge, kind: 'invalidate', v: 1 });
    await writer.invalidate({ keys: ['x'] }, { position: first.id });
    await writer.set('before-start', 'written at the first event');
    await log.publish(newer);
    const flushes: string[] = [];
    const region = new Region(resolveRegion({ name: 'r', delayMs: 0 }), { clock, log, l2, onFlushed: (_n, why) => flushes.push(why) });
    await region.start(); // replays both events
    expect(flushes).toEqual(['unknown event']);
    expect(await region.cache.lookup('before-start')).toBeUndefined();
    await writer.invalidate({ keys: [] }, { position: 2 });
    await writer.set('live', 'written at the second event');
    const third = await log.publish(newer);
    await clock.advanceAsync(0);
    expect(flushes).toEqual(['unknown event', 'unknown event']);
    expect(await region.cache.lookup('live')).toBeUndefined();
    await writer.invalidate({ keys: [] }, { position: third.id });
    await writer.set('after', 'written after it');
    expect((await region.cache.lookup('after'))?.value).toBe('written after it');
    await region.stop();
  });

  it('a node sharing its L2 refuses the entries written before an event that drops everything, at start and live, and trusts those written after', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const l2 = new MemoryStore({ name: 'l2', clock, shared: true });
    const writer = new TieredCache({ clock, l1: new MemoryStore({ clock }), l2 });
    const flushAll: InvalidationInput = { kind: 'invalidate', v: 2, keys: [], tags: [], prefixes: [], all: true, reason: 'capture lost', source: 'cdc', committedAt: 0 };
    const first = await log.publish({ kind: 'invalidate', v: 1, keys: ['x'], tags: [], prefixes: [], source: 'purge', committedAt: 0 });
    await writer.invalidate({ keys: ['x'] }, { position: first.id });
    await writer.set('before-start', 'written at the first event');
    await log.publish(flushAll);
    const flushes: string[] = [];
    const region = new Region(resolveRegion({ name: 'r', delayMs: 0 }), { clock, log, l2, onFlushed: (_n, why) => flushes.push(why) });
    await region.start(); // replays both events
    expect(await region.cache.lookup('before-start')).toBeUndefined();
    await writer.invalidate({ keys: [] }, { position: 2 });
    await writer.set('live', 'written at the second event');
    const third = await log.publish(flushAll);
    await clock.advanceAsync(0);
    expect(flushes).toContain('capture lost');
    expect(await region.cache.lookup('live')).toBeUndefined();
    await writer.invalidate({ keys: [] }, { position: third.id });
    await writer.set('after', 'written after it');
    expect((await region.cache.lookup('after'))?.value).toBe('written after it');
    await region.stop();
  });

  it('treats a control event as a deliberate no-op while none is defined: nothing flushed or invalidated, reported as skipped', async () => {
    const clock = new ManualClock();
    const log = new MemoryLog({ clock });
    const flushes: string[] = [];
    const applied: { id: number; skipped: boolean }[] = [];
    const region = new Region(resolveRegion({ name: 'r', delayMs: 0 }), {
      clock,
      log,
      onFlushed: (_n, why) => flushes.push(why),
      onApplied: (a) => applied.push({ id: a.event.id, skipped: a.skipped }),
    });
    await region.start();
    await region.cache.set('named', 1);
    const event = await log.publish({ kind: 'control', v: 1, keys: ['named'], tags: [], prefixes: [], source: 'purge', committedAt: 0 });
    await clock.advanceAsync(0);
    expect(await region.cache.get('named')).toBe(1);
    expect(flushes).toEqual([]);
    expect(applied).toEqual([{ id: event.id, skipped: true }]);
    await region.stop();
  });
});
