import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { FreshcacheError } from '../../packages/freshcache/src/engine/errors.js';
import type { Strategy } from '../../packages/freshcache/src/engine/tiered-cache.js';

/**
 * Model-based property tests of the engine's invariants. An origin holds a version per key;
 * reads go through `lookupOrLoad` with loaders whose completion fast-check's scheduler
 * interleaves with writes and purges in every order it can find. A row can be deleted and
 * inserted again: the loader then says not_found, which the cache remembers (negative caching).
 */
const KEYS = ['a:1', 'a:2', 'b:1', 'b:2'] as const;
const TAGS: Record<(typeof KEYS)[number], string[]> = { 'a:1': ['red'], 'a:2': ['red', 'blue'], 'b:1': ['blue'], 'b:2': [] };

type Op =
  | { kind: 'read'; key: (typeof KEYS)[number] }
  | { kind: 'write'; key: (typeof KEYS)[number] }
  | { kind: 'delete'; key: (typeof KEYS)[number] }
  | { kind: 'purgeTag'; tag: 'red' | 'blue' }
  | { kind: 'purgePrefix'; prefix: 'a:' | 'b:' }
  | { kind: 'replayOld'; key: (typeof KEYS)[number] }
  | { kind: 'dropL1'; key: (typeof KEYS)[number] }
  | { kind: 'settle' };

const key = fc.constantFrom(...KEYS);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: key.map((k) => ({ kind: 'read' as const, key: k })) },
  { weight: 3, arbitrary: key.map((k) => ({ kind: 'write' as const, key: k })) },
  { weight: 2, arbitrary: key.map((k) => ({ kind: 'delete' as const, key: k })) },
  { weight: 1, arbitrary: fc.constantFrom('red' as const, 'blue' as const).map((tag) => ({ kind: 'purgeTag' as const, tag })) },
  { weight: 1, arbitrary: fc.constantFrom('a:' as const, 'b:' as const).map((prefix) => ({ kind: 'purgePrefix' as const, prefix })) },
  { weight: 1, arbitrary: key.map((k) => ({ kind: 'replayOld' as const, key: k })) },
  { weight: 1, arbitrary: key.map((k) => ({ kind: 'dropL1' as const, key: k })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'settle' as const }) },
);

async function runModel(strategy: Strategy, scheduler: fc.Scheduler, ops: Op[]) {
  const cache = createCache({ l2: 'memory', strategy, maxStaleMs: 60_000, clock: new ManualClock() });
  const origin = new Map<string, number>(KEYS.map((k) => [k, 1]));
  // Rows deleted (until a write inserts them again), and how many deletes each key has seen.
  const absent = new Set<string>();
  const deletes = new Map<string, number>(KEYS.map((k) => [k, 0]));
  const load = (k: (typeof KEYS)[number], ctx: { version?: number; tags?: string[] }) => {
    const version = origin.get(k)!;
    const exists = !absent.has(k);
    ctx.version = version;
    ctx.tags = TAGS[k];
    return scheduler.schedule(Promise.resolve(version), `load ${k} v${version}${exists ? '' : ' (absent)'}`).then((v) => {
      if (!exists) throw new FreshcacheError('not_found', `no row ${k}`);
      return v;
    });
  };
  const violations: string[] = [];
  const reads: Promise<unknown>[] = [];

  for (const step of ops) {
    switch (step.kind) {
      case 'read': {
        // The newest version a fresh answer may not be older than: what the origin holds now.
        const required = origin.get(step.key)!;
        // A row that exists when the read is asked, and is not deleted before it answers, must
        // not be answered not_found: its INSERT's invalidation was applied before the read.
        const existed = !absent.has(step.key);
        const deletesBefore = deletes.get(step.key)!;
        reads.push(
          cache.lookupOrLoad(step.key, (ctx) => load(step.key, ctx)).then(
            (found) => {
              if (found.state === 'HIT' && (found.version ?? 0) < required) {
                violations.push(`${step.key}: HIT v${found.version} after v${required} was invalidated`);
              }
            },
            (error: unknown) => {
              if (!(error instanceof FreshcacheError && error.code === 'not_found')) throw error;
              if (existed && deletes.get(step.key) === deletesBefore) violations.push(`${step.key}: not_found while the row existed`);
            },
          ),
        );
        break;
      }
      case 'write': {
        // An UPDATE, or an INSERT of a deleted row.
        const version = origin.get(step.key)! + 1;
        origin.set(step.key, version);
        absent.delete(step.key);
        // The version rule: an entry or fill already holding this version is kept, an older one dropped.
        await cache.invalidate({ keys: [step.key] }, { keyVersions: { [step.key]: version } });
        break;
      }
      case 'delete': {
        const version = origin.get(step.key)! + 1;
        origin.set(step.key, version);
        absent.add(step.key);
        deletes.set(step.key, deletes.get(step.key)! + 1);
        // A delete carries no key version: the generation check drops every copy.
        await cache.invalidate({ keys: [step.key] });
        break;
      }
      case 'purgeTag':
        await cache.invalidate({ tags: [step.tag] });
        break;
      case 'purgePrefix':
        await cache.invalidate({ prefixes: [step.prefix] });
        break;
      case 'replayOld':
        // A duplicate or late event carrying an old version: must never make anything staler.
        await cache.invalidate({ keys: [step.key] }, { keyVersions: { [step.key]: origin.get(step.key)! - 1 } });
        break;
      case 'dropL1':
        cache.l1.remove(step.key);
        break;
      case 'settle':
        // Let every load scheduled so far (reads and background revalidations) answer, in the
        // scheduler's order, so that what they filled or remembered meets the ops that follow.
        await scheduler.waitFor(Promise.all(reads));
        await scheduler.waitAll();
        break;
    }
  }
  // Release scheduled loads in fast-check's chosen order until every read has answered.
  await scheduler.waitFor(Promise.all(reads));

  // Quiescent: every load finished, every invalidation applied. A fresh answer must be current.
  for (const k of KEYS) {
    const found = await cache.lookup(k);
    if (found?.state === 'HIT' && (found.version !== origin.get(k) || absent.has(k))) {
      violations.push(`${k}: holds v${found.version} as fresh, origin has v${origin.get(k)}${absent.has(k) ? ' (deleted)' : ''}`);
    }
    // A remembered not_found must not outlive the INSERT's invalidation.
    const loaded = cache.getOrLoad(k, (ctx) => load(k, ctx)).catch((error: unknown) => error);
    const answer = await scheduler.waitFor(loaded);
    if (!absent.has(k) && answer instanceof FreshcacheError) violations.push(`${k}: remembered not_found after the row was inserted`);
  }
  return violations;
}

describe('engine invariants (property)', () => {
  for (const strategy of ['eager', 'lazy'] as const) {
    it(`${strategy}: no stale set, no fresh answer older than an applied invalidation, idempotent replays`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.scheduler(), fc.array(op, { minLength: 1, maxLength: 40 }), async (scheduler, ops) => {
          expect(await runModel(strategy, scheduler, ops)).toEqual([]);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('single flight: any number of concurrent misses for a key cause one load', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 200 }), async (scheduler, readers) => {
        const cache = createCache({ l2: 'memory', clock: new ManualClock() });
        let loads = 0;
        const all = Array.from({ length: readers }, () =>
          cache.getOrLoad('k', () => {
            loads++;
            return scheduler.schedule(Promise.resolve('v'));
          }),
        );
        await scheduler.waitFor(Promise.all(all));
        expect(loads).toBe(1);
      }),
      { numRuns: 100 },
    );
  });
});
