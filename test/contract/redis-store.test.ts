import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { ManualClock } from '../../src/engine/clock.js';
import type { RedisServer } from '../testkit/redis-server.js';
import { startRedis } from '../testkit/redis-server.js';
import { entry, storeContract } from './store-contract.js';

/** The Store contract, unchanged, against a real redis-server this file starts. */
let server: RedisServer;
let client: Redis;
let stores = 0;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url, { lazyConnect: false });
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

// Each test its own namespace: tests never see each other's keys and nothing is wiped.
storeContract('RedisStore (standalone)', async (clock) => new RedisStore({ redis: client, clock, prefix: `t${++stores}:` }), () => new ManualClock());

it('RedisStore: Redis itself expires an entry at its hard expiry', async () => {
  const clock = new ManualClock(Date.now());
  const store = new RedisStore({ redis: client, clock, prefix: 'ttl:' });
  await store.set('k', entry('v', { expiresAt: clock.now() + 5_000 }, clock));
  const ttl = await client.pttl('ttl:k');
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(5_000);
});
