import { describe, expect, it, onTestFinished } from 'vitest';
import { startRedis } from '../testkit/redis-server.js';
import { testApp } from '../testkit/test-topology.js';

/**
 * Redis stopped under a running server: what the adapters throw (coded FreshcacheErrors) becomes
 * a 503 with the code, never a 500. The server maps codes only; it knows no Redis class.
 */
async function appWithStoppedRedis() {
  const server = await startRedis();
  onTestFinished(() => server.stop());
  const { url } = server;
  const { app } = await testApp({ config: { log: { kind: 'redis', redis: { url } }, l2: { kind: 'redis', redis: { url } } } });
  await server.stop();
  return app;
}

describe('HTTP answers while Redis is stopped', () => {
  it('a listing of the shared tier answers 503 store_unavailable', async () => {
    const app = await appWithStoppedRedis();
    const res = await app.inject('/api/cache?region=us-east&limit=10');
    expect(res.statusCode, res.body).toBe(503);
    expect(res.json()).toEqual({ error: { code: 'store_unavailable', message: expect.any(String) } });
  });

  it('once the shared tier\'s circuit breaker opened, a listing still answers 503 store_unavailable', async () => {
    const app = await appWithStoppedRedis();
    // The breaker opens after 5 failures in a row (its default); each listing is one.
    for (let i = 0; i < 5; i++) expect((await app.inject('/api/cache?region=us-east&limit=10')).statusCode).toBe(503);
    const res = await app.inject('/api/cache?region=us-east&limit=10');
    expect(res.statusCode, res.body).toBe(503);
    expect(res.json()).toEqual({ error: { code: 'store_unavailable', message: expect.stringMatching(/circuit open/) } });
  });

  it('an invalidation or a write that cannot be published answers 503 log_unavailable', async () => {
    const app = await appWithStoppedRedis();
    const res = await app.inject({ method: 'POST', url: '/api/invalidate', payload: { keys: ['user:1'] } });
    expect(res.statusCode, res.body).toBe(503);
    expect(res.json()).toEqual({ error: { code: 'log_unavailable', message: expect.any(String) } });
    // A write publishes its event first: unpublished, it is not written.
    const put = await app.inject({ method: 'PUT', url: '/api/cache/user:1?region=us-east', payload: { value: 1 } });
    expect([put.statusCode, put.json()]).toEqual([503, { error: { code: 'log_unavailable', message: expect.any(String) } }]);
  });

  it('a region change that cannot be published answers 503 log_unavailable and leaves the region as it was (the other nodes would never hear it)', async () => {
    const app = await appWithStoppedRedis();
    const res = await app.inject({ method: 'PATCH', url: '/api/regions/eu-west', payload: { strategy: 'lazy', ttlMs: 5_000 } });
    expect(res.statusCode, res.body).toBe(503);
    expect(res.json()).toEqual({ error: { code: 'log_unavailable', message: expect.any(String) } });
    const regions = (await app.inject('/api/regions')).json<{ items: { name: string; strategy: string; ttlMs: number }[] }>().items;
    expect(regions.find((r) => r.name === 'eu-west')).toMatchObject({ strategy: 'eager', ttlMs: 60_000 });
  });
});
