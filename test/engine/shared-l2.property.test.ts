import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import type { Clock } from '../../packages/freshcache/src/engine/clock.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import type { InvalidationTargets } from '../../packages/freshcache/src/engine/generations.js';
import type { Strategy } from '../../packages/freshcache/src/engine/tiered-cache.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';

/**
 * Several nodes of one region share an L2 (with fill leases: one node loads a key that all miss),
 * and each applies the invalidation log at its own pace.
 * Entries one node writes are read by the others, so they are dated by log position. Whatever
 * order fast-check picks for reads, loads, writes, purges and each node's progress through the
 * log, no node may answer fresh with a value older than an invalidation it has applied, and once
 * every node has caught up nothing stale is held as fresh anywhere.
 */
const KEYS = ['a:1', 'a:2', 'b:1'] as const;
type Key = (typeof KEYS)[number];
const TAGS: Record<Key, string[]> = { 'a:1': ['red'], 'a:2': ['red', 'blue'], 'b:1': ['blue'] };
const NODES = 3;

type Op =
  | { kind: 'read'; node: number; key: Key }
  | { kind: 'write'; key: Key }
  | { kind: 'purgeTag'; tag: 'red' | 'blue' }
  | { kind: 'purgePrefix'; prefix: 'a:' | 'b:' }
  | { kind: 'deliver'; node: number }
  | { kind: 'dropL1'; node: number; key: Key }
  | { kind: 'restart'; node: number };

const node = fc.integer({ min: 0, max: NODES - 1 });
const key = fc.constantFrom(...KEYS);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('read' as const), node, key }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('write' as const), key }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('purgeTag' as const), tag: fc.constantFrom('red' as const, 'blue' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('purgePrefix' as const), prefix: fc.constantFrom('a:' as const, 'b:' as const) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('deliver' as const), node }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dropL1' as const), node, key }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), node }) },
);

interface LogEvent {
  position: number;
  targets: InvalidationTargets;
  /** The origin's version of each key the event covers, when it was published. */
  versions: Map<Key, number>;
}

function covers(targets: InvalidationTargets, k: Key): boolean {
  return (
    (targets.keys ?? []).includes(k) ||
    (targets.tags ?? []).some((t) => TAGS[k].includes(t)) ||
    (targets.prefixes ?? []).some((p) => k.startsWith(p))
  );
}

/**
 * Time stands still, except that short timers (a node waiting for another node's fill lease)
 * fire when the scheduler chooses, interleaved with everything else. Long ones (load timeouts)
 * never fire: no load here is slow, it is only scheduled late.
 */
function schedulerClock(scheduler: fc.Scheduler): Clock {
  const still = new ManualClock();
  return {
    now: () => still.now(),
    setTimeout: (fn, ms) => {
      if (ms >= 1_000) return still.setTimeout(fn, ms);
      let cancelled = false;
      void scheduler.schedule(Promise.resolve(), `timer ${ms} ms`).then(() => {
        if (!cancelled) fn();
      });
      return { cancel: () => void (cancelled = true) };
    },
    setInterval: (fn, ms) => still.setInterval(fn, ms),
  };
}

async function runModel(strategy: Strategy, scheduler: fc.Scheduler, ops: Op[]) {
  const clock = schedulerClock(scheduler);
  const l2 = new MemoryStore({ name: 'l2', clock, shared: true });
  const newNode = (i: number) => new TieredCache({ name: `n${i}`, clock, l1: new MemoryStore({ name: 'l1', clock }), l2, strategy, maxStaleMs: 60_000 });
  const nodes = Array.from({ length: NODES }, (_, i) => newNode(i));
  const origin = new Map<Key, number>(KEYS.map((k) => [k, 1]));
  const log: LogEvent[] = [];
  const applied = nodes.map(() => 0);
  /** Per node and key: the newest version an applied invalidation announced. */
  const required = nodes.map(() => new Map<Key, number>());
  const violations: string[] = [];
  const reads: Promise<unknown>[] = [];

  const publish = (targets: InvalidationTargets) => {
    const versions = new Map<Key, number>(KEYS.filter((k) => covers(targets, k)).map((k) => [k, origin.get(k)!]));
    log.push({ position: log.length + 1, targets, versions });
  };
  const deliver = async (i: number) => {
    const event = log[applied[i]!];
    if (!event) return;
    applied[i]!++;
    for (const [k, version] of event.versions) required[i]!.set(k, Math.max(required[i]!.get(k) ?? 0, version));
    // Node 0 also plays the region's consumer group: named keys leave L2 once.
    await nodes[i]!.invalidate(event.targets, { position: event.position, l2: i === 0 });
  };

  for (const step of ops) {
    switch (step.kind) {
      case 'read': {
        const { node: i, key: k } = step;
        const before = required[i]!.get(k) ?? 0;
        reads.push(
          nodes[i]!
            .lookupOrLoad(k, (ctx) => {
              const version = origin.get(k)!;
              ctx.version = version;
              ctx.tags = TAGS[k];
              return scheduler.schedule(Promise.resolve(version), `n${i} load ${k} v${version}`);
            })
            .then((found) => {
              if (found.state !== 'STALE' && (found.version ?? 0) < before) {
                violations.push(`n${i} ${k}: ${found.state} v${found.version} after it applied an invalidation of v${before}`);
              }
            }),
        );
        break;
      }
      case 'write':
        origin.set(step.key, origin.get(step.key)! + 1);
        publish({ keys: [step.key] });
        break;
      case 'purgeTag':
        publish({ tags: [step.tag] });
        break;
      case 'purgePrefix':
        publish({ prefixes: [step.prefix] });
        break;
      case 'deliver':
        await deliver(step.node);
        break;
      case 'dropL1':
        nodes[step.node]!.l1.remove(step.key);
        break;
      case 'restart': {
        // A node (re)joins where the log is now, having seen nothing before: its sequence starts
        // again from 0 while the others' have moved on. It must distrust older shared entries.
        const i = step.node;
        nodes[i] = newNode(i);
        nodes[i]!.trustFrom(log.length);
        applied[i] = log.length;
        for (const event of log) for (const [k, version] of event.versions) required[i]!.set(k, Math.max(required[i]!.get(k) ?? 0, version));
        break;
      }
    }
  }
  await scheduler.waitFor(Promise.all(reads));
  for (let i = 0; i < NODES; i++) while (applied[i]! < log.length) await deliver(i);

  // Every node has applied every event: a fresh answer anywhere, from L1 or the shared L2, must be current.
  for (let i = 0; i < NODES; i++) {
    for (const k of KEYS) {
      nodes[i]!.l1.remove(k); // judge the shared entry itself too, not only this node's copy
      const found = await nodes[i]!.lookup(k);
      if (found?.state === 'HIT' && found.version !== origin.get(k)) {
        violations.push(`n${i} ${k}: shared L2 holds v${found.version} as fresh, origin has v${origin.get(k)}`);
      }
    }
  }
  return violations;
}

describe('shared L2 across nodes (property)', () => {
  for (const strategy of ['eager', 'lazy'] as const) {
    it(`${strategy}: no node answers fresh with a value older than an invalidation it applied`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.scheduler(), fc.array(op, { minLength: 1, maxLength: 40 }), async (scheduler, ops) => {
          expect(await runModel(strategy, scheduler, ops)).toEqual([]);
        }),
        { numRuns: 300 },
      );
    });
  }
});

describe('single flight across the nodes of a region (property)', () => {
  it('concurrent misses for one key on any number of nodes cause one load', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 5 }), async (scheduler, readersPerNode) => {
        const clock = schedulerClock(scheduler);
        const l2 = new MemoryStore({ name: 'l2', clock, shared: true });
        let loads = 0;
        const reads = readersPerNode.flatMap((readers, i) => {
          const node = new TieredCache({ name: `n${i}`, clock, l1: new MemoryStore({ name: 'l1', clock }), l2 });
          return Array.from({ length: readers }, () =>
            node.getOrLoad('k', () => {
              loads++;
              return scheduler.schedule(Promise.resolve('v'), 'load');
            }),
          );
        });
        await scheduler.waitFor(Promise.all(reads));
        expect(loads).toBe(1);
      }),
      { numRuns: 200 },
    );
  });
});
