import { describe, expect, it } from 'vitest';
import type { InvalidationEvent, InvalidationInput, InvalidationLog } from '../../src/seams/invalidation-log.js';

const input = (n: number): InvalidationInput => ({ keys: [`k${n}`], tags: [], prefixes: [], source: 'purge', committedAt: n });

/** The contract every `InvalidationLog` keeps (memory now; Redis Streams later). */
export function invalidationLogContract(name: string, make: (options: { retain: number }) => Promise<InvalidationLog>) {
  describe(`InvalidationLog contract: ${name}`, () => {
    it('assigns increasing ids and delivers new events in order', async () => {
      const log = await make({ retain: 100 });
      const seen: InvalidationEvent[] = [];
      log.subscribe({ afterId: await log.lastId(), onEvent: (e) => seen.push(e) });
      const published = [];
      for (let i = 1; i <= 5; i++) published.push(await log.publish(input(i)));
      expect(published.map((e) => e.id)).toEqual([...published.map((e) => e.id)].sort((a, b) => a - b));
      expect(seen.map((e) => e.keys[0])).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
      await log.close();
    });

    it('replays everything after a position to a late subscriber', async () => {
      const log = await make({ retain: 100 });
      const events = [];
      for (let i = 1; i <= 5; i++) events.push(await log.publish(input(i)));
      const seen: string[] = [];
      let gap = false;
      log.subscribe({ afterId: events[1]!.id, onEvent: (e) => seen.push(e.keys[0]!), onGap: () => (gap = true) });
      expect(seen).toEqual(['k3', 'k4', 'k5']);
      expect(gap).toBe(false);
      await log.close();
    });

    it('reports a gap when events after the position were trimmed', async () => {
      const log = await make({ retain: 3 });
      for (let i = 1; i <= 10; i++) await log.publish(input(i));
      const gaps: { afterId: number; oldestRetainedId: number }[] = [];
      const seen: string[] = [];
      log.subscribe({ afterId: 2, onEvent: (e) => seen.push(e.keys[0]!), onGap: (g) => gaps.push(g) });
      expect(gaps).toHaveLength(1);
      expect(seen).toEqual(['k8', 'k9', 'k10']);
      await log.close();
    });

    it('stops delivering after close of the subscription', async () => {
      const log = await make({ retain: 100 });
      const seen: number[] = [];
      const sub = log.subscribe({ afterId: 0, onEvent: (e) => seen.push(e.id) });
      await log.publish(input(1));
      sub.close();
      await log.publish(input(2));
      expect(seen).toHaveLength(1);
      await log.close();
    });
  });
}
