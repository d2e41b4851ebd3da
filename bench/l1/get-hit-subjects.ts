import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { createCache as createCacheManager } from 'cache-manager';
import { LRUCache } from 'lru-cache';
import { createCache } from '../../packages/freshcache/src/index.js';
import type { CreateCacheOptions } from '../../packages/freshcache/src/index.js';
import { redisStreamLog } from '../../packages/freshcache/src/redis.js';
import type { Pass } from '../lib/measure-ops.js';

export const N = 10_000;

/** What a subject may need from the parent: the URL of the redis-server it started for the subjects that follow a log. */
export interface SubjectContext {
  redisUrl?: string;
}

export interface GetHitSubject {
  pass: Pass;
  close: () => Promise<unknown>;
}

/** The same N keys and values for every library. */
const keys = Array.from({ length: N }, (_, i) => `user:${i}`);
const values = keys.map((key, i) => ({ id: i, key, name: `User ${i}`, teamId: i % 100 }));

/** A pass that found a key missing measured misses, not hits: stop the run. */
function hits(name: string, misses: number): number {
  if (misses > 0) throw new Error(`${name}: ${misses} of ${N} reads missed; every read must be a hit`);
  return N;
}

/** A loader that must never run: one shared function keeps the measurement on the cache, not on allocating a closure. */
const neverLoad = (): object => {
  throw new Error('getOrLoad called its loader on a hit');
};

async function freshcache(read: 'get' | 'getOrLoad', invalidations?: CreateCacheOptions['invalidations']): Promise<GetHitSubject> {
  let ready = () => {};
  const following = new Promise<void>((resolve) => (ready = resolve));
  const cache = createCache({ l1: { maxEntries: N }, ...(invalidations ? { invalidations: { ...invalidations, onReady: ready } } : {}) });
  // Filled once it follows the log, as a service's cache would be: its reads are then judged against the log's marks.
  if (invalidations) await following;
  for (let i = 0; i < N; i++) await cache.set(keys[i]!, values[i]);
  const pass: Pass =
    read === 'get'
      ? async () => {
          let misses = 0;
          for (let i = 0; i < N; i++) if ((await cache.get(keys[i]!)) === undefined) misses++;
          return hits('freshcache get', misses);
        }
      : async () => {
          let misses = 0;
          for (let i = 0; i < N; i++) if ((await cache.getOrLoad(keys[i]!, neverLoad)) === undefined) misses++;
          return hits('freshcache getOrLoad', misses);
        };
  return { pass, close: () => cache.close() };
}

async function lruCache(awaited: boolean): Promise<GetHitSubject> {
  const lru = new LRUCache<string, object>({ max: N });
  for (let i = 0; i < N; i++) lru.set(keys[i]!, values[i]!);
  const pass: Pass = awaited
    ? async () => {
        let misses = 0;
        for (let i = 0; i < N; i++) if ((await lru.get(keys[i]!)) === undefined) misses++;
        return hits('lru-cache awaited', misses);
      }
    : () => {
        let misses = 0;
        for (let i = 0; i < N; i++) if (lru.get(keys[i]!) === undefined) misses++;
        return hits('lru-cache', misses);
      };
  return { pass, close: async () => lru.clear() };
}

async function bentocache(serialize: boolean): Promise<GetHitSubject> {
  const bento = new BentoCache({
    default: 'memory',
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: N, serialize })) },
  });
  for (let i = 0; i < N; i++) await bento.set({ key: keys[i]!, value: values[i] });
  return {
    pass: async () => {
      let misses = 0;
      for (let i = 0; i < N; i++) if ((await bento.get({ key: keys[i]! })) === undefined) misses++;
      return hits('bentocache', misses);
    },
    close: () => bento.disconnectAll(),
  };
}

async function cacheManager(): Promise<GetHitSubject> {
  const manager = createCacheManager();
  for (let i = 0; i < N; i++) await manager.set(keys[i]!, values[i]);
  return {
    pass: async () => {
      let misses = 0;
      for (let i = 0; i < N; i++) if ((await manager.get(keys[i]!)) === undefined) misses++;
      return hits('cache-manager', misses);
    },
    close: () => manager.disconnect(),
  };
}

/** Every subject by the name shown in the table; the first lru-cache row is the baseline of the ratios. */
export const getHitSubjects: Record<string, (context: SubjectContext) => Promise<GetHitSubject>> = {
  'freshcache get': () => freshcache('get'),
  // A library cache as a service embeds it in a deployment: subscribed to the Redis log (a
  // blocking read on a connection of its own, which the reads never touch).
  'freshcache get, subscribed to a Redis log': ({ redisUrl }) => {
    if (!redisUrl) throw new Error('the Redis-log subject needs the redis-server the bench starts');
    return freshcache('get', { log: redisStreamLog({ url: redisUrl, namespace: 'bench-l1:' }), region: 'bench' });
  },
  'freshcache getOrLoad': () => freshcache('getOrLoad'),
  'lru-cache get (sync)': () => lruCache(false),
  // Not a library: what the `await` of an async API costs on its own.
  'lru-cache get, awaited': () => lruCache(true),
  'bentocache get (memory, default serialize: true)': () => bentocache(true),
  'bentocache get (memory, serialize: false)': () => bentocache(false),
  'cache-manager get (default Keyv memory store)': () => cacheManager(),
};

export const LRU_BASELINE = 'lru-cache get (sync)';
/** Subjects whose cache follows a log on the redis-server the bench starts. */
export const NEEDS_REDIS = new Set(['freshcache get, subscribed to a Redis log']);
