import { afterEach, describe, expect, it } from 'vitest';
import { createRedisConnection } from '../../packages/freshcache/src/adapters/redis/redis-connection.js';
import { RedisStore } from '../../packages/freshcache/src/adapters/redis/redis-store.js';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import type { TieredCache } from '../../packages/freshcache/src/engine/tiered-cache.js';
import { redisStore, redisStreamLog } from '../../packages/freshcache/src/redis.js';
import type { InvalidationEvent, InvalidationInput } from '../../packages/freshcache/src/seams/invalidation-log.js';
import type { KeyDrop } from '../../packages/freshcache/src/seams/store.js';
import { redisForFile } from '../testkit/redis-server.js';
import { signal } from '../testkit/signal.js';

/**
 * A library cache joins a deployment: two instances of one region share a Redis L2 and follow the
 * Redis log, as a freshcache server's nodes do; a third party publishes to the log.
 */
const redis = redisForFile();
let namespaces = 0;

/** The region's shared L2, tapped to record the keys the instances delete from it. */
class TappedStore extends RedisStore {
  static deleted: string[] = [];
  static seen = signal();
  override async delete(key: string): Promise<boolean> {
    const existed = await super.delete(key);
    TappedStore.deleted.push(key);
    TappedStore.seen.notify();
    return existed;
  }
  override async dropMany(drops: readonly KeyDrop[]): Promise<number> {
    const dropped = await super.dropMany(drops);
    TappedStore.deleted.push(...drops.map(({ key }) => key));
    TappedStore.seen.notify();
    return dropped;
  }
}

const purge = (targets: Partial<Pick<InvalidationInput, 'keys' | 'tags' | 'prefixes'>>): InvalidationInput => ({
  kind: 'invalidate',
  v: 1,
  keys: [],
  tags: [],
  prefixes: [],
  ...targets,
  source: 'purge',
  committedAt: Date.now(),
});

interface Instance {
  cache: TieredCache;
  applied: InvalidationEvent[];
  flushed: string[];
  loads: number;
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const part of open.splice(0).reverse()) await part.close();
});

/** Two instances of region eu-west on one Redis (L2 and log) and a publisher; resolves once both follow the log. */
async function deployment() {
  const ns = `lib${++namespaces}:`;
  const { url } = redis().server;
  const seen = signal();
  TappedStore.deleted = [];
  TappedStore.seen = seen;
  const instances: Instance[] = [];
  for (const nodeId of ['a', 'b']) {
    const connection = createRedisConnection({ url });
    open.push({ close: async () => void connection.disconnect() });
    const instance: Instance = { cache: undefined!, applied: [], flushed: [], loads: 0 };
    let ready = false;
    instance.cache = createCache({
      l2: new TappedStore({ redis: connection, prefix: `${ns}l2:` }),
      invalidations: {
        log: redisStreamLog({ url, namespace: ns }),
        region: 'eu-west',
        nodeId,
        onReady: () => ((ready = true), seen.notify()),
        onApplied: (event) => (instance.applied.push(event), seen.notify()),
        onFlushed: (reason) => (instance.flushed.push(reason), seen.notify()),
      },
    });
    open.push(instance.cache);
    await seen.until(() => ready);
    instances.push(instance);
  }
  const publisher = redisStreamLog({ url, namespace: ns });
  open.push(publisher);
  const load = (instance: Instance, key: string, tags: string[] = []) =>
    instance.cache.getOrLoad(key, (context) => {
      instance.loads++;
      context.tags = tags;
      return `${key} v${instance.loads}`;
    });
  const appliedEverywhere = (event: InvalidationEvent) => seen.until(() => instances.every((i) => i.applied.some((e) => e.id === event.id)));
  return { ns, instances, publisher, seen, load, appliedEverywhere };
}

describe('a library cache in a deployment (real Redis)', () => {
  it('drops a published key from every instance’s L1, and from the shared L2 once for the region', async () => {
    const { instances, publisher, load, appliedEverywhere } = await deployment();
    const [a, b] = instances as [Instance, Instance];
    await load(a, 'user:1');
    await load(b, 'user:1'); // from the shared L2: b has it in its L1 now
    expect([a.loads, b.loads]).toEqual([1, 0]);
    expect([a.cache.l1.peek('user:1'), b.cache.l1.peek('user:1')].every(Boolean)).toBe(true);

    const event = await publisher.publish(purge({ keys: ['user:1'] }));
    await appliedEverywhere(event);
    await TappedStore.seen.until(() => TappedStore.deleted.includes('user:1'));
    expect([a.cache.l1.peek('user:1'), b.cache.l1.peek('user:1')]).toEqual([undefined, undefined]);
    // Closing waits for every delete in flight: none can come after the count.
    await a.cache.close();
    await b.cache.close();
    expect(TappedStore.deleted.filter((key) => key === 'user:1')).toHaveLength(1);
    expect(await redis().client.keys('*user:1*')).toEqual([]);
  });

  it('purges a tag in every instance: the next read of each loads again', async () => {
    const { instances, publisher, load, appliedEverywhere } = await deployment();
    const [a, b] = instances as [Instance, Instance];
    await load(a, 'user:1', ['org:3']);
    await load(b, 'user:1', ['org:3']);
    await load(b, 'user:2', ['org:7']);

    await appliedEverywhere(await publisher.publish(purge({ tags: ['org:3'] })));
    expect(await a.cache.get('user:1')).toBeUndefined();
    expect(await b.cache.get('user:1')).toBeUndefined();
    expect(await b.cache.get('user:2')).toBe('user:2 v1');
  });

  it('flushes every instance on a gap in the log (events it never saw), and refuses the shared entries older than it', async () => {
    const { ns, instances, publisher, seen, load, appliedEverywhere } = await deployment();
    const [a, b] = instances as [Instance, Instance];
    await appliedEverywhere(await publisher.publish(purge({ keys: ['other'] })));
    await load(a, 'user:1');
    await load(b, 'user:1');
    // Publish an event as if the one before it had been trimmed before the readers got to it.
    const client = redis().client;
    const next = Number((await client.get(`${ns}{log}:last`)) ?? 0) + 2;
    await client.set(`${ns}{log}:last`, next);
    await client.xadd(`${ns}{log}:events`, `${next}-0`, 'e', JSON.stringify({ ...purge({ keys: ['other'] }), publishedAt: Date.now() }));

    await seen.until(() => a.flushed.length > 0 && b.flushed.length > 0);
    expect([a.flushed, b.flushed]).toEqual([['log trimmed'], ['log trimmed']]);
    expect(await a.cache.get('user:1')).toBeUndefined();
    expect(await b.cache.get('user:1')).toBeUndefined();
  });

  it('a cache that joins later refuses the shared entries until it has replayed the log that judges them', async () => {
    const { ns, instances, publisher, load, appliedEverywhere } = await deployment();
    const [a] = instances as [Instance];
    await load(a, 'user:1', ['org:3']);
    // A tag purge leaves the entry in the shared L2: only the log's marks tell that it is invalid.
    await appliedEverywhere(await publisher.publish(purge({ tags: ['org:3'] })));

    const { url } = redis().server;
    const connection = createRedisConnection({ url });
    open.push({ close: async () => void connection.disconnect() });
    let ready = false;
    const seen = signal();
    const late = createCache({
      l2: new RedisStore({ redis: connection, prefix: `${ns}l2:` }),
      invalidations: { log: redisStreamLog({ url, namespace: ns }), region: 'eu-west', nodeId: 'c', onReady: () => ((ready = true), seen.notify()) },
    });
    open.push(late);
    expect(await late.get('user:1')).toBeUndefined();
    await seen.until(() => ready);
    expect(await late.get('user:1')).toBeUndefined();
  });

  it('close() ends every connection its Redis parts opened, the log readers included', async () => {
    const client = redis().client;
    /** Ids of the connected clients; connections of earlier tests may still be on their way out. */
    const clients = async () => ((await client.client('LIST')) as string).match(/(?<=^id=)\d+/gm) ?? [];
    const before = new Set(await clients());
    const opened = async () => (await clients()).filter((id) => !before.has(id)).length;
    const { url } = redis().server;
    const ns = `lib${++namespaces}:`;
    const seen = signal();
    let ready = 0;
    const caches = ['a', 'b'].map((nodeId) =>
      createCache({
        l2: redisStore({ url, namespace: `${ns}l2:` }),
        invalidations: { log: redisStreamLog({ url, namespace: ns }), region: 'eu-west', nodeId, onReady: () => (ready++, seen.notify()) },
      }),
    );
    await seen.until(() => ready === 2);
    await caches[0]!.set('user:1', 'x');
    expect(await opened()).toBeGreaterThan(0);

    await Promise.all(caches.map((cache) => cache.close()));
    // The server drops a client when it sees the socket close: look until it has seen them all.
    for (let look = 0; look < 200 && (await opened()) > 0; look++) await client.ping();
    expect(await opened()).toBe(0);
  });
});
