import { describe, expect, it } from 'vitest';
import { createCache } from '../create-cache.js';
import { ManualClock } from '../engine/clock.js';
import type { TieredCache } from '../engine/tiered-cache.js';
import type { Serializer } from '../seams/serializer.js';
import type { Store } from '../seams/store.js';

/** Two handles on one shared L2 (the same store twice, or two clients of one Redis namespace). */
export interface SharedL2 {
  a: Store;
  b: Store;
  close(): Promise<void>;
}

/**
 * The promise of `createCache({ serializer })`: a value comes back equal from every tier. Node A
 * loads a value (it then holds it in L1); node B, sharing A's L2, reads it from L2. The loader's
 * value, A's L1 value and B's L2 value must be equal, types included (Date, BigInt, Buffer,
 * nested anywhere). `open` gives each test a fresh, empty shared L2 that reads the time from
 * `clock` and writes with `serializer` (default: the default serializer).
 */
export function tierValuesContract(name: string, open: (clock: ManualClock) => Promise<SharedL2>, serializer?: Serializer) {
  describe(`Tier values contract: ${name}`, () => {
    const nodes = async () => {
      const clock = new ManualClock();
      const l2 = await open(clock);
      const a = createCache({ clock, l2: l2.a, serializer, defaultTtlMs: 60_000 });
      const b = createCache({ clock, l2: l2.b, serializer, defaultTtlMs: 60_000 });
      // Caches sharing an L2 date its entries by log position: both have applied the same event.
      for (const cache of [a, b]) await cache.invalidate({ keys: ['nothing'] }, { position: 1 });
      const close = async () => {
        await a.close();
        await b.close();
        await l2.close();
      };
      return { a, b, close };
    };

    it("a value read from L2 equals the loader's value, Date, BigInt and Buffer included", async () => {
      const { a, b, close } = await nodes();
      try {
        await a.getOrLoad('row:1', () => typedRow());
        const fromL2 = await read(b, 'row:1', 'l2');
        expect(fromL2).toStrictEqual(typedRow());
      } finally {
        await close();
      }
    });

    it('a value read from L1 equals the value read from L2, however the loader built it', async () => {
      const { a, b, close } = await nodes();
      try {
        // What JSON cannot say (a class, a property set to undefined), and an object the loader's
        // caller changes after the fill: L2 holds neither, so L1 must not either.
        const loaded = { ...typedRow(), point: new Point(1, 2), deletedAt: undefined };
        await a.getOrLoad('row:1', () => loaded);
        loaded.tags.push('changed after the fill');
        const fromL1 = await read(a, 'row:1', 'l1');
        const fromL2 = await read(b, 'row:1', 'l2');
        expect(fromL1).toStrictEqual(fromL2);
        expect(fromL1).toEqual({ ...typedRow(), point: { x: 1, y: 2 } });
      } finally {
        await close();
      }
    });

    it('a value the serializer cannot represent is refused with bad_request, and nothing is cached', async () => {
      const { a, b, close } = await nodes();
      try {
        const cyclic: Record<string, unknown> = { id: 1 };
        cyclic.self = cyclic;
        for (const value of [{ id: 1, format: () => 'x' }, cyclic]) {
          await expect(a.getOrLoad('bad:1', () => value)).rejects.toMatchObject({ code: 'bad_request' });
          expect(await a.lookup('bad:1')).toBeUndefined();
          expect(await b.lookup('bad:1')).toBeUndefined();
        }
      } finally {
        await close();
      }
    });
  });
}

/** A row as a PostgreSQL driver returns it: int8 as BigInt, timestamptz as Date, bytea as Buffer. */
function typedRow() {
  return {
    id: 9_007_199_254_740_993n,
    title: 'Hello',
    publishedAt: new Date('2026-01-02T03:04:05.678Z'),
    avatar: Buffer.from([0, 1, 254, 255]),
    checksum: new Uint8Array([7, 8, 9]),
    tags: ['news', 'front-page'],
    revisions: [{ at: new Date(0), by: 42n, diff: Buffer.from('+1 line') }, { at: new Date(1), by: 43n, diff: null }],
    meta: { nested: { deeper: [[new Date('2000-01-01T00:00:00.000Z')], { big: -5n }] }, empty: {}, none: null, score: 1.5 },
  };
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** `cache`'s value for `key`, asserting the tier it came from. */
async function read(cache: TieredCache, key: string, tier: 'l1' | 'l2'): Promise<unknown> {
  const found = await cache.lookup(key);
  expect(found?.tier, `${key} should come from ${tier}`).toBe(tier);
  return found!.value;
}
