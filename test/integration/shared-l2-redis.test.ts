import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { RedisStore } from '../../packages/freshcache/src/adapters/redis/redis-store.js';
import { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';
import { redisForFile } from '../testkit/redis-server.js';

/** Nodes of one region sharing a real Redis as L2: the fill lease works across them. */
const redisOfFile = redisForFile();
let namespaces = 0;

function region(nodes: number) {
  const l2 = new RedisStore({ redis: redisOfFile().client, prefix: `region${++namespaces}:` });
  return Array.from({ length: nodes }, (_, i) => new TieredCache({ name: `node-${i}`, l1: new MemoryStore({ name: 'l1' }), l2 }));
}

describe('fill leases across nodes on Redis', () => {
  it('concurrent misses for one key on every node of a region cause one origin fetch', async () => {
    const nodes = region(3);
    let loads = 0;
    let release = () => {};
    const origin = new Promise<string>((resolve) => (release = () => resolve('value')));
    const reads = nodes.flatMap((node) =>
      Array.from({ length: 50 }, () =>
        node.lookupOrLoad('k', () => {
          loads++;
          return origin;
        }),
      ),
    );
    // Let every node reach Redis and find the lease taken before the one load finishes.
    await Promise.all(nodes.map((node) => node.lookup('unrelated')));
    release();
    const answers = await Promise.all(reads);
    expect(loads).toBe(1);
    expect(new Set(answers.map((a) => a.value))).toEqual(new Set(['value']));
    expect(nodes.reduce((sum, node) => sum + node.stats.leaseWaits, 0)).toBeGreaterThan(0);
  });

  it("a set on one node while another node's load is in flight wins: the older fill is refused", async () => {
    const [loading, writing] = region(2);
    let release = (_value: string) => {};
    let loading$ = () => {};
    const loaderRuns = new Promise<void>((resolve) => (loading$ = resolve));
    const slow = loading!.lookupOrLoad('k', () => {
      loading$(); // the node holds the lease and reads the origin now
      return new Promise<string>((resolve) => (release = resolve));
    });
    await loaderRuns;
    await writing!.set('k', 'newer');
    release('older, read before the set');
    expect((await slow).value).toBe('older, read before the set'); // the caller who asked first gets it
    expect(await region1Value(writing!)).toBe('newer');
    expect(loading!.stats.staleSetsRefused).toBe(1);
  });
});

async function region1Value(node: TieredCache) {
  node.l1.clear();
  return (await node.lookup('k'))?.value;
}
