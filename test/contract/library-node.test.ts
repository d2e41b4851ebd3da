import { expect, it } from 'vitest';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { RedisNodeRegistry } from '../../packages/freshcache/src/adapters/redis/redis-node-registry.js';
import { redisStreamLog } from '../../packages/freshcache/src/redis.js';
import { redisForFile } from '../testkit/redis-server.js';

const redisOfFile = redisForFile();
/** Only turns a registration that never comes into a failure. */
const WAIT = { timeout: 10_000, interval: 20 };

it('a library cache following a Redis log lists itself in the deployment’s registry (url null, not drainable), with its figures, and leaves it on close', async () => {
  const { server, client } = redisOfFile();
  const cache = createCache({ l1: { maxEntries: 100 }, invalidations: { log: redisStreamLog({ url: server.url }), region: 'us-east', nodeId: 'billing-1', heartbeatMs: 50 } });
  const registry = new RedisNodeRegistry({ redis: client });
  try {
    await cache.getOrLoad('user:1', async () => ({ name: 'Ada' }));
    await cache.getOrLoad('user:1', async () => ({ name: 'Ada' }));
    await expect
      .poll(() => registry.get('billing-1'), WAIT)
      .toMatchObject({
        id: 'billing-1',
        roles: ['library'],
        regions: ['us-east'],
        url: null,
        drainable: false,
        state: 'up',
        status: { health: 'ok', l1: { entries: 1 }, hitRatio: 0.5, breaker: null, regions: { 'us-east': { l1: { entries: 1 }, hitRatio: 0.5 } } },
      });
  } finally {
    await cache.close();
  }
  expect(await registry.get('billing-1')).toBeUndefined();
});
