import { afterEach, describe, expect, it } from 'vitest';
import { createCache, FOLLOW_RETRY } from '../../packages/freshcache/src/create-cache.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { redisStore, redisStreamLog } from '../../packages/freshcache/src/redis.js';
import type { InvalidationEvent, InvalidationInput } from '../../packages/freshcache/src/seams/invalidation-log.js';
import { startRedis } from '../../packages/freshcache-server/src/tools/local-redis.js';
import type { RedisServer } from '../../packages/freshcache-server/src/tools/local-redis.js';
import { signal } from '../testkit/signal.js';

/** A library cache whose log's Redis is down when it starts: it keeps trying, on its own clock, until closed. */
let server: RedisServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const purge = (key: string): InvalidationInput => ({
  kind: 'invalidate',
  v: 1,
  keys: [key],
  tags: [],
  prefixes: [],
  source: 'purge',
  committedAt: Date.now(),
});

function downCache(url: string, l2?: ReturnType<typeof redisStore>) {
  const clock = new ManualClock();
  const seen = signal();
  const state = { errors: 0, ready: false, applied: [] as InvalidationEvent[], flushed: [] as string[] };
  const cache = createCache({
    clock,
    l2,
    invalidations: {
      log: redisStreamLog({ url, namespace: 'retry:' }),
      region: 'eu-west',
      onReady: () => ((state.ready = true), seen.notify()),
      onApplied: (event) => (state.applied.push(event), seen.notify()),
      onError: () => (state.errors++, seen.notify()),
      onFlushed: (reason) => state.flushed.push(reason),
    },
  });
  return { cache, clock, seen, state };
}

describe('createCache({ invalidations }) when the log is down at start', () => {
  it('retries starting with backoff, and follows the log once its Redis is back', async () => {
    server = await startRedis();
    await server.kill();
    const { cache, clock, seen, state } = downCache(server.url);
    let loads = 0;
    const load = async () => `v${++loads}`;
    await seen.until(() => state.errors >= 1);
    // Not following: reads go to the loader.
    expect(await cache.getOrLoad('page:1', load)).toBe('v1');

    await server.restart();
    // Published once Redis is back, before the cache follows: its L1 entry must not outlive it.
    const publisher = redisStreamLog({ url: server.url, namespace: 'retry:' });
    await publisher.publish(purge('page:1'));
    // Fire retries until one succeeds (the first may still meet the old, dropped connection).
    while (!state.ready) {
      const errors = state.errors;
      clock.advance(FOLLOW_RETRY.maxMs);
      await seen.until(() => state.ready || state.errors > errors);
    }
    expect(await cache.getOrLoad('page:1', load)).toBe('v2');
    expect(state.flushed).toEqual(['followed late']);
    await publisher.publish(purge('page:1'));
    await seen.until(() => state.applied.length === 1);
    expect(await cache.getOrLoad('page:1', load)).toBe('v3');
    await publisher.close();
    await cache.close();
  });

  it('close() during the retries cancels them: nothing is left scheduled, no attempt follows', async () => {
    server = await startRedis();
    await server.kill();
    const { cache, clock, seen, state } = downCache(server.url);
    await seen.until(() => state.errors >= 1);
    clock.advance(FOLLOW_RETRY.firstMs);
    await seen.until(() => state.errors >= 2);
    await cache.close();
    expect(clock.pending).toBe(0);
    const errors = state.errors;
    clock.advance(60_000);
    await server.restart();
    expect(state.errors).toBe(errors);
    expect(state.ready).toBe(false);
  });

  it('while it cannot follow, a cache sharing its region’s L2 refuses the entries other caches wrote there', async () => {
    server = await startRedis();
    const shared = await startRedis();
    try {
      await server.kill();
      const writer = createCache({ l2: redisStore({ url: shared.url, namespace: 'l2:' }) });
      await writer.set('page:1', 'written by another cache');
      const { cache, seen, state } = downCache(server.url, redisStore({ url: shared.url, namespace: 'l2:' }));
      await seen.until(() => state.errors >= 1);
      expect(await cache.getOrLoad('page:1', async () => 'from the loader')).toBe('from the loader');
      await cache.close();
      await writer.close();
    } finally {
      await shared.stop();
    }
  });
});
