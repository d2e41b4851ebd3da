import { describe, expect, it, onTestFinished } from 'vitest';
import type { GapInfo, InvalidationEvent, InvalidationInput, InvalidationLog } from '../seams/invalidation-log.js';

const input = (n: number): InvalidationInput => ({ kind: 'invalidate', v: 1, keys: [`k${n}`], tags: [], prefixes: [], source: 'purge', committedAt: n });

/** Collects what a reader is handed; `until` resolves once a condition holds (delivery may be asynchronous). */
export function eventCollector() {
  const events: InvalidationEvent[] = [];
  const gaps: GapInfo[] = [];
  const waiters: (() => void)[] = [];
  const changed = () => {
    for (const wake of waiters.splice(0)) wake();
  };
  return {
    events,
    gaps,
    keys: () => events.map((e) => e.keys[0]),
    onEvent: (event: InvalidationEvent) => {
      events.push(event);
      changed();
    },
    onGap: (gap: GapInfo) => {
      gaps.push(gap);
      changed();
    },
    /** Resolves once `done()` holds; fails after `guardMs` instead of hanging the suite. */
    async until(done: () => boolean, guardMs = 20_000): Promise<void> {
      const deadline = Date.now() + guardMs;
      while (!done()) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('the log did not deliver what the test waits for in time');
        await new Promise<void>((resolve, reject) => {
          const guard = setTimeout(() => reject(new Error('the log did not deliver what the test waits for in time')), left);
          waiters.push(() => {
            clearTimeout(guard);
            resolve();
          });
        });
      }
    },
  };
}

/** The contract every `InvalidationLog` keeps: memory and Redis Streams. */
export function invalidationLogContract(name: string, make: (options: { retain: number; retryAfterMs: number }) => Promise<InvalidationLog>) {
  const open = async (retain: number) => {
    const log = await make({ retain, retryAfterMs: 100 });
    onTestFinished(() => log.close());
    return log;
  };

  describe(`InvalidationLog contract: ${name}`, () => {
    it('assigns consecutive ids and delivers new events in order', async () => {
      const log = await open(100);
      const got = eventCollector();
      log.subscribe({ afterId: await log.lastId(), ...got });
      const published = [];
      for (let i = 1; i <= 5; i++) published.push(await log.publish(input(i)));
      const first = published[0]!.id;
      expect(published.map((e) => e.id)).toEqual([first, first + 1, first + 2, first + 3, first + 4]);
      expect(await log.lastId()).toBe(first + 4);
      await got.until(() => got.events.length === 5);
      expect(got.keys()).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
      expect(got.events.map((e) => e.id)).toEqual(published.map((e) => e.id));
      expect(got.events[0]).toMatchObject({ source: 'purge', committedAt: 1, publishedAt: published[0]!.publishedAt });
    });

    it('publishMany appends a batch in one call: consecutive ids after the events before it, delivered in order to subscribers and groups', async () => {
      const log = await open(100);
      const got = eventCollector();
      log.subscribe({ afterId: await log.lastId(), ...got });
      const grouped = eventCollector();
      await log.consume({ group: 'g', consumer: 'c', onEvent: async (event) => grouped.onEvent(event) });
      const before = await log.publish(input(1));
      const batch = await log.publishMany([input(2), input(3), input(4)]);
      const after = await log.publish(input(5));
      expect(batch.map((e) => e.id)).toEqual([before.id + 1, before.id + 2, before.id + 3]);
      expect(batch.map((e) => e.keys[0])).toEqual(['k2', 'k3', 'k4']);
      expect(after.id).toBe(before.id + 4);
      expect(await log.lastId()).toBe(after.id);
      await got.until(() => got.events.length === 5);
      expect(got.keys()).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
      expect(got.events.map((e) => e.id)).toEqual([before.id, ...batch.map((e) => e.id), after.id]);
      expect(got.events[2]).toMatchObject({ source: 'purge', committedAt: 3, publishedAt: batch[1]!.publishedAt });
      expect(got.gaps).toEqual([]);
      await grouped.until(() => grouped.events.length === 5);
      expect(grouped.keys().sort()).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
      expect(await log.publishMany([])).toEqual([]);
      expect(await log.lastId()).toBe(after.id);
    });

    it('publishMany as the first write of a new log: a subscriber at position 0 gets the whole batch, with no gap', async () => {
      const log = await open(100);
      const got = eventCollector();
      log.subscribe({ afterId: 0, ...got });
      const batch = await log.publishMany([input(1), input(2), input(3)]);
      expect(batch.map((e) => e.id - batch[0]!.id)).toEqual([0, 1, 2]);
      await got.until(() => got.events.length === 3);
      const late = eventCollector();
      log.subscribe({ afterId: 0, ...late });
      await late.until(() => late.events.length === 3);
      expect([got.keys(), late.keys()]).toEqual([['k1', 'k2', 'k3'], ['k1', 'k2', 'k3']]);
      expect([...got.gaps, ...late.gaps]).toEqual([]);
    });

    it('publishMany keeps the retention bound: a reader behind a batch larger than it reports the trim, then gets the newest events', async () => {
      const log = await open(3);
      const first = await log.publish(input(1));
      await log.publishMany([2, 3, 4, 5, 6].map(input));
      const got = eventCollector();
      log.subscribe({ afterId: first.id, ...got });
      await got.until(() => got.events.length === 3);
      expect(got.gaps).toEqual([{ reason: 'trimmed', afterId: first.id, oldestRetainedId: first.id + 3 }]);
      expect(got.keys()).toEqual(['k4', 'k5', 'k6']);
    });

    it('carries the kind and format version of each event to readers, as published', async () => {
      const log = await open(100);
      const got = eventCollector();
      log.subscribe({ afterId: await log.lastId(), ...got });
      const grouped = eventCollector();
      await log.consume({ group: 'g', consumer: 'c', onEvent: async (event) => grouped.onEvent(event) });
      // A log interprets no event: a control event and a format newer than this code's go through as they are.
      const sent = [
        await log.publish({ ...input(1), kind: 'invalidate', v: 1 }),
        await log.publish({ ...input(2), kind: 'control', v: 1 }),
        await log.publish({ ...input(3), kind: 'invalidate', v: 2 }),
      ];
      const expected = [
        { kind: 'invalidate', v: 1 },
        { kind: 'control', v: 1 },
        { kind: 'invalidate', v: 2 },
      ];
      expect(sent.map(({ kind, v }) => ({ kind, v }))).toEqual(expected);
      await got.until(() => got.events.length === 3);
      await grouped.until(() => grouped.events.length === 3);
      expect(got.events.map(({ kind, v }) => ({ kind, v }))).toEqual(expected);
      expect(grouped.events.map(({ kind, v }) => ({ kind, v }))).toEqual(expected);
    });

    it('replays everything after a position to a late subscriber', async () => {
      const log = await open(100);
      const events = [];
      for (let i = 1; i <= 5; i++) events.push(await log.publish(input(i)));
      const got = eventCollector();
      log.subscribe({ afterId: events[1]!.id, ...got });
      await got.until(() => got.events.length === 3);
      expect(got.keys()).toEqual(['k3', 'k4', 'k5']);
      expect(got.gaps).toEqual([]);
    });

    it('reports a gap, then delivers what is left, when events after the position were trimmed', async () => {
      const log = await open(3);
      const ids: number[] = [];
      for (let i = 1; i <= 10; i++) ids.push((await log.publish(input(i))).id);
      const got = eventCollector();
      log.subscribe({ afterId: ids[1]!, ...got });
      await got.until(() => got.events.length === 3);
      expect(got.gaps).toEqual([{ reason: 'trimmed', afterId: ids[1], oldestRetainedId: ids[7] }]);
      expect(got.keys()).toEqual(['k8', 'k9', 'k10']);
    });

    it('reports a reset when the position is beyond anything the log holds (the log was lost)', async () => {
      const log = await open(100);
      const first = await log.publish(input(1));
      const got = eventCollector();
      log.subscribe({ afterId: first.id + 500, ...got });
      await got.until(() => got.gaps.length === 1);
      expect(got.gaps[0]).toMatchObject({ reason: 'reset', afterId: first.id + 500 });
      const next = await log.publish(input(2));
      await got.until(() => got.events.some((e) => e.id === next.id));
    });

    it('delivers from the start of the log, with no gap, to a subscriber at position 0', async () => {
      const log = await open(100);
      const got = eventCollector();
      log.subscribe({ afterId: 0, ...got });
      await log.publish(input(1));
      await log.publish(input(2));
      await got.until(() => got.events.length === 2);
      const late = eventCollector();
      log.subscribe({ afterId: 0, ...late });
      await late.until(() => late.events.length === 2);
      expect([got.keys(), late.keys()]).toEqual([['k1', 'k2'], ['k1', 'k2']]);
      expect([...got.gaps, ...late.gaps]).toEqual([]);
    });

    it('stops delivering once the subscription is closed', async () => {
      const log = await open(100);
      const closing = eventCollector();
      const staying = eventCollector();
      const subscription = log.subscribe({ afterId: 0, ...closing });
      log.subscribe({ afterId: 0, ...staying });
      await log.publish(input(1));
      await closing.until(() => closing.events.length === 1);
      await subscription.close();
      await log.publish(input(2));
      await staying.until(() => staying.events.length === 2);
      expect(closing.keys()).toEqual(['k1']);
    });

    it('a consumer group hands each event to one of its consumers; every group gets every event', async () => {
      const log = await open(100);
      const handled = new Map<string, string[]>();
      const done = eventCollector();
      const consumer = async (group: string, name: string) =>
        await log.consume({
          group,
          consumer: name,
          onEvent: async (event) => {
            handled.set(`${group}/${name}`, [...(handled.get(`${group}/${name}`) ?? []), event.keys[0]!]);
            done.onEvent(event);
          },
        });
      await consumer('us-east', 'node-1');
      await consumer('us-east', 'node-2');
      await consumer('eu-west', 'node-1');
      for (let i = 1; i <= 6; i++) await log.publish(input(i));
      await done.until(() => done.events.length === 12);
      const usEast = [...(handled.get('us-east/node-1') ?? []), ...(handled.get('us-east/node-2') ?? [])];
      expect(usEast.sort()).toEqual(['k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
      expect(handled.get('eu-west/node-1')!.sort()).toEqual(['k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
    });

    it('a consumer group hands an event out again when its consumer failed on it', async () => {
      const log = await open(100);
      let failures = 1;
      const done = eventCollector();
      await log.consume({
        group: 'g',
        consumer: 'node-1',
        onEvent: async (event) => {
          if (event.keys[0] === 'k1' && failures-- > 0) throw new Error('L2 unreachable');
          done.onEvent(event);
        },
      });
      await log.publish(input(1));
      await log.publish(input(2));
      await done.until(() => done.keys().includes('k1') && done.keys().includes('k2'));
      expect(done.keys().filter((k) => k === 'k1')).toHaveLength(1);
    });

    it('a group consumer is handed later events while earlier ones are still being applied (a region applies on a delay line)', async () => {
      const log = await open(100);
      let release = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const started = eventCollector();
      const applied = eventCollector();
      await log.consume({
        group: 'g',
        consumer: 'node-1',
        onEvent: async (event) => {
          started.onEvent(event);
          if (event.keys[0] === 'k1') await gate;
          applied.onEvent(event);
        },
      });
      await log.publish(input(1));
      await started.until(() => started.events.length === 1);
      await log.publish(input(2));
      // k1 is still in hand: a consumer that waited for it would never be handed k2.
      await started.until(() => started.keys().includes('k2'));
      expect(applied.keys()).toEqual(['k2']);
      release();
      await applied.until(() => applied.events.length === 2);
    });

    it('a consumer that leaves its group finishes the event in hand first, and later events go to the consumers that stay', async () => {
      const log = await open(100);
      const order: string[] = [];
      let release = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const started = eventCollector();
      const leaving = await log.consume({
        group: 'g',
        consumer: 'node-1',
        onEvent: async (event) => {
          started.onEvent(event);
          await gate;
          order.push(`node-1 ${event.keys[0]}`);
        },
      });
      expect(leaving.leave, 'consume() returns a subscription with leave()').toBeTypeOf('function');
      await log.publish(input(1));
      await started.until(() => started.events.length === 1);
      const left = leaving.leave!().then(() => order.push('left'));
      // Still waiting for the event in hand after a turn of the event loop.
      expect(await Promise.race([left.then(() => 'left'), new Promise((resolve) => setImmediate(() => resolve('waiting')))])).toBe('waiting');
      release();
      await left;
      expect(order).toEqual(['node-1 k1', 'left']);
      const staying = eventCollector();
      await log.consume({ group: 'g', consumer: 'node-2', onEvent: async (event) => staying.onEvent(event) });
      await log.publish(input(2));
      await log.publish(input(3));
      await staying.until(() => staying.keys().includes('k3'));
      expect(staying.keys()).toEqual(['k2', 'k3']);
      expect(started.keys()).toEqual(['k1']);
    });
  });
}
