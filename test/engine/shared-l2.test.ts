import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';

/** Two nodes of one region over a shared L2, with a fake clock: pruning and trust, step by step. */
function region() {
  const clock = new ManualClock();
  const l2 = new MemoryStore({ name: 'l2', clock, shared: true });
  const node = (name: string) => new TieredCache({ name, clock, l1: new MemoryStore({ name: 'l1', clock }), l2, defaultTtlMs: 60_000 });
  return { clock, a: node('a'), b: node('b') };
}

describe('a shared L2 over time', () => {
  it("a node that only ever read another node's entry keeps the marks that can invalidate it", async () => {
    const { clock, a, b } = region();
    await a.set('k', 'v1', { tags: ['news'], ttlMs: 600_000 }); // a long TTL, handed out by node a
    expect((await b.lookup('k'))?.state).toBe('HIT'); // b copies it into its L1; b never loaded anything
    await b.invalidate({ tags: ['news'] }, { position: 1 });
    clock.advance(70_000); // past b's own longest TTL (its default 60 s) and the once-a-minute prune
    await b.invalidate({ keys: ['other'] }, { position: 2 }); // prunes
    expect((await b.lookup('k'))?.state).not.toBe('HIT');
  });

  it('after a quiet spell, pruning keeps trusting entries read at the last position', async () => {
    const { clock, a, b } = region();
    await a.invalidate({ keys: ['x'] }, { position: 1 });
    await b.invalidate({ keys: ['x'] }, { position: 1 });
    await a.set('k', 'v', { ttlMs: 900_000 }); // dated at position 1
    clock.advance(700_000); // quiet: no event for longer than any TTL b handed out
    await b.invalidate({ keys: ['unrelated'] }, { position: 2 }); // prunes position 1's record
    b.l1.clear();
    expect(await b.lookup('k')).toMatchObject({ state: 'HIT', tier: 'l2', value: 'v' });
  });

  it('entries older than what a node can judge are refused, never served', async () => {
    const { a, b } = region();
    await a.set('old', 'v'); // dated at position 0
    b.trustFrom(5); // b started where the log was trimmed: it knows nothing before 5
    expect(await b.lookup('old')).toBeUndefined();
    await b.invalidate({ keys: ['x'] }, { position: 6 });
    await b.set('new', 'w'); // dated at 6
    b.l1.clear();
    expect((await b.lookup('new'))?.value).toBe('w');
  });
});
