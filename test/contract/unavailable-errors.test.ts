import { ReplyError } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createPgClient } from '../../packages/freshcache/src/adapters/postgres/pg-client.js';
import { createRedisConnection } from '../../packages/freshcache/src/adapters/redis/redis-connection.js';
import { RedisStore } from '../../packages/freshcache/src/adapters/redis/redis-store.js';
import { RedisStreamLog } from '../../packages/freshcache/src/adapters/redis/redis-stream-log.js';
import { BreakerStore } from '../../packages/freshcache/src/adapters/resilience/breaker-store.js';
import { CircuitBreaker, CircuitOpenError } from '../../packages/freshcache/src/adapters/resilience/circuit-breaker.js';
import { FreshcacheError } from '../../packages/freshcache/src/engine/errors.js';
import { entry } from '../../packages/freshcache/src/testing/store-contract.js';
import { postgresForFile } from '../testkit/postgres-server.js';
import { startRedis } from '../testkit/redis-server.js';

/**
 * An unreachable Redis or PostgreSQL leaves each adapter as a coded FreshcacheError, the
 * original error as its cause, so that callers (the server) map codes, never driver classes.
 * A programming error (a bad command or query) keeps its own error.
 */
async function stoppedRedis() {
  const server = await startRedis();
  const redis = createRedisConnection({ url: server.url, onError: () => {} });
  onTestFinished(() => redis.disconnect());
  await redis.ping();
  await server.stop();
  return redis;
}

const coded = (code: string) => ({ code, cause: expect.any(Error) });

describe('adapters when their server is stopped', () => {
  it('RedisStore: get, set, delete and scan reject with store_unavailable, the Redis error as cause', async () => {
    const store = new RedisStore({ redis: await stoppedRedis() });
    const results = await Promise.allSettled([store.get('k'), store.set('k', entry('v')), store.delete('k'), store.scan({ limit: 10 })]);
    for (const result of results) expect(result).toMatchObject({ status: 'rejected', reason: coded('store_unavailable') });
  });

  it('RedisStreamLog: publish rejects with log_unavailable, the Redis error as cause', async () => {
    const log = new RedisStreamLog({ redis: await stoppedRedis() });
    onTestFinished(() => log.close());
    const input = { kind: 'invalidate' as const, v: 1, keys: ['k'], tags: [], prefixes: [], source: 'purge' as const, committedAt: 0 };
    await expect(log.publish(input)).rejects.toMatchObject(coded('log_unavailable'));
    await expect(log.lastId()).rejects.toMatchObject(coded('log_unavailable'));
  });

  it('BreakerStore: once its breaker opened, delete and scan reject with store_unavailable, the CircuitOpenError as cause', async () => {
    const breaker = new CircuitBreaker({ name: 'l2', failureThreshold: 1, openMs: 60_000 });
    const store = new BreakerStore({ store: new RedisStore({ redis: await stoppedRedis() }), breaker });
    // Closed: the failure comes from the store, already coded.
    await expect(store.delete('k')).rejects.toMatchObject(coded('store_unavailable'));
    expect(breaker.state).toBe('open');
    await expect(store.delete('k')).rejects.toMatchObject({ code: 'store_unavailable', cause: expect.any(CircuitOpenError) });
    await expect(store.scan({ limit: 10 })).rejects.toMatchObject({ code: 'store_unavailable', cause: expect.any(CircuitOpenError) });
    expect(await store.get('k')).toBeUndefined();
  });

  it('a Redis error that is not an outage keeps its own class', async () => {
    const server = await startRedis();
    onTestFinished(() => server.stop());
    const redis = createRedisConnection({ url: server.url });
    onTestFinished(() => redis.disconnect());
    await redis.set('freshcache:{k}', 'not json');
    await redis.lpush('freshcache:{list}', 'x');
    const store = new RedisStore({ redis });
    // A record the serializer cannot decode (another serializer wrote it) is a miss, not an outage.
    expect(await store.get('k')).toBeUndefined();
    // A Redis reply error (WRONGTYPE) is a bug, not an outage.
    await expect(store.get('list')).rejects.toBeInstanceOf(ReplyError);
  });
});

describe('the PostgreSQL client when the server is stopped', () => {
  const postgres = postgresForFile();

  it('query and listen reject with origin_unavailable, the pg error as cause; a bad query keeps its own error', async () => {
    const sql = await createPgClient({ connectionString: await postgres().createDatabase('unavailable'), onError: () => {} });
    onTestFinished(() => sql.close());
    const bad = await sql.query('SELECT * FROM no_such_table').catch((error: unknown) => error);
    expect(bad).not.toBeInstanceOf(FreshcacheError);
    expect(bad).toMatchObject({ code: '42P01' });
    await postgres().kill();
    onTestFinished(() => postgres().start());
    await expect(sql.query('SELECT 1')).rejects.toMatchObject(coded('origin_unavailable'));
    await expect(sql.listen('unavailable', () => {})).rejects.toMatchObject(coded('origin_unavailable'));
  });
});
