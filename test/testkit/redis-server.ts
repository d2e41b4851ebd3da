import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedis } from '../../packages/freshcache-server/src/tools/local-redis.js';
import type { RedisServer } from '../../packages/freshcache-server/src/tools/local-redis.js';

// The test kit uses the same local servers as `freshcache up`.
export * from '../../packages/freshcache-server/src/tools/local-redis.js';

/**
 * A redis-server of the calling test file and a client of it: started before its tests, stopped
 * after them. Returns an accessor, since both exist only once `beforeAll` ran.
 */
export function redisForFile(): () => { server: RedisServer; client: Redis } {
  let started: { server: RedisServer; client: Redis } | undefined;
  beforeAll(async () => {
    const server = await startRedis();
    started = { server, client: new Redis(server.url) };
  });
  afterAll(async () => {
    started?.client.disconnect();
    await started?.server.stop();
  });
  return () => {
    if (!started) throw new Error('the redis-server of this file is not started (use it inside a test or hook)');
    return started;
  };
}
