import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { testApp } from '../testkit/test-topology.js';

const enc = encodeURIComponent;

describe('PUT / GET / DELETE /api/cache/:key', () => {
  it('round-trips a value with tags and ttl, with X-Cache headers and an Age that grows', async () => {
    const clock = new ManualClock();
    const { app } = await testApp({ clock });
    const put = await app.inject({ method: 'PUT', url: '/api/cache/user:1', payload: { value: { name: 'Ada' }, tags: ['users', 'vip'], ttl: 10 } });
    expect(put.statusCode, put.body).toBe(201);
    expect(put.json()).toEqual({ key: 'user:1', region: 'us-east', stored: true, invalidation: expect.any(Number) });

    const got = await app.inject('/api/cache/user:1');
    expect(got.statusCode).toBe(200);
    expect(got.json()).toMatchObject({ key: 'user:1', value: { name: 'Ada' }, tags: ['users', 'vip'], version: null, state: 'HIT' });
    expect(got.headers).toMatchObject({ 'x-cache': 'HIT', 'x-cache-region': 'us-east', age: '0' });
    expect(got.headers['x-request-id']).toBeUndefined(); // sent only when the caller traces, or on errors

    await clock.advanceAsync(4_000);
    const older = await app.inject('/api/cache/user:1');
    expect(older.headers).toMatchObject({ 'x-cache': 'HIT', age: '4' });
    expect(older.json()).toMatchObject({ ageMs: 4_000 });

    await clock.advanceAsync(6_000); // the ttl of 10 s is over
    expect((await app.inject('/api/cache/user:1')).statusCode).toBe(404);
  });

  it('DELETE removes the key at once (204, then 404 on GET), and is idempotent: a second DELETE still publishes its purge', async () => {
    const { app } = await testApp();
    await app.inject({ method: 'PUT', url: '/api/cache/k', payload: { value: 1 } });
    const first = await app.inject({ method: 'DELETE', url: '/api/cache/k' });
    expect(first.statusCode).toBe(204);
    expect((await app.inject('/api/cache/k')).statusCode).toBe(404);
    // The key may still be held in another region: the purge goes out whether this one held it or not.
    const again = await app.inject({ method: 'DELETE', url: '/api/cache/k' });
    expect(again.statusCode).toBe(204);
    expect(Number(again.headers['x-invalidation-id'])).toBeGreaterThan(Number(first.headers['x-invalidation-id']));
  });

  it('stores any JSON value but null, including falsy ones, and overwrites value and tags (duplicates dropped)', async () => {
    const { app } = await testApp();
    for (const value of [0, false, '', [], {}, 'text', 3.5, [1, { a: [null] }]]) {
      const put = await app.inject({ method: 'PUT', url: '/api/cache/v', payload: { value } });
      expect(put.statusCode, JSON.stringify(value)).toBe(201);
      expect((await app.inject('/api/cache/v')).json()).toMatchObject({ value });
    }
    await app.inject({ method: 'PUT', url: '/api/cache/v', payload: { value: 'a', tags: ['t1'] } });
    await app.inject({ method: 'PUT', url: '/api/cache/v', payload: { value: 'b', tags: ['t2', 't3', 't2'] } });
    expect((await app.inject('/api/cache/v')).json()).toMatchObject({ value: 'b', tags: ['t2', 't3'] });
  });

  it('accepts a value of exactly 1 MiB and a JSON content type with a charset', async () => {
    const { app } = await testApp();
    const value = 'x'.repeat(1024 * 1024 - 2); // 1 MiB once JSON-quoted
    const put = await app.inject({
      method: 'PUT',
      url: '/api/cache/big',
      payload: JSON.stringify({ value }),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(put.statusCode, put.body.slice(0, 200)).toBe(201);
    expect((await app.inject('/api/cache/big')).json<{ value: string }>().value).toHaveLength(value.length);
  });

  it('measures the key limit in UTF-8 bytes, not characters', async () => {
    const { app } = await testApp();
    for (const key of ['é'.repeat(200), 'é'.repeat(256), '€'.repeat(170), 'a'.repeat(512), 'a/b c?d#e%f']) {
      const put = await app.inject({ method: 'PUT', url: `/api/cache/${enc(key)}`, payload: { value: key.length } });
      expect(put.statusCode, `${Buffer.byteLength(key)} bytes: ${put.body.slice(0, 100)}`).toBe(201);
      const got = await app.inject(`/api/cache/${enc(key)}`);
      expect(got.json()).toMatchObject({ key, value: key.length });
    }
  });

  it('keeps regions apart: ?region= picks the cache, the first region by default', async () => {
    const { app } = await testApp();
    await app.inject({ method: 'PUT', url: '/api/cache/k?region=eu-west', payload: { value: 'eu' } });
    expect((await app.inject('/api/cache/k')).statusCode).toBe(404);
    expect((await app.inject('/api/cache/k?region=ap-south')).statusCode).toBe(404);
    const got = await app.inject('/api/cache/k?region=eu-west');
    expect(got.json()).toMatchObject({ value: 'eu' });
    expect(got.headers['x-cache-region']).toBe('eu-west');
  });

  it('serves STALE after staleAfter and drops the entry at its ttl; the region TTL applies when none is given', async () => {
    const clock = new ManualClock();
    const { app } = await testApp({ clock });
    await app.inject({ method: 'PUT', url: '/api/cache/soft', payload: { value: 1, staleAfter: 2, ttl: 5 } });
    await app.inject({ method: 'PUT', url: '/api/cache/plain', payload: { value: 2 } });
    await clock.advanceAsync(2_000);
    const stale = await app.inject('/api/cache/soft');
    expect(stale.headers['x-cache']).toBe('STALE');
    expect(stale.json()).toMatchObject({ value: 1, state: 'STALE' });
    await clock.advanceAsync(3_000);
    expect((await app.inject('/api/cache/soft')).statusCode).toBe(404);

    await clock.advanceAsync(60_000 - 5_000 - 1); // the region's ttlMs is 60 s
    expect((await app.inject('/api/cache/plain')).statusCode).toBe(200);
    await clock.advanceAsync(1);
    expect((await app.inject('/api/cache/plain')).statusCode).toBe(404);
  });
});

describe('a value stored under a content key', () => {
  it('is what the edge serves for that content, as stored (not a 500 for failing the record schema)', async () => {
    const { app } = await testApp();
    const put = await app.inject({ method: 'PUT', url: '/api/cache/content:1', payload: { value: { note: 'not a record' } } });
    expect(put.statusCode, put.body).toBe(201);
    const edge = await app.inject('/edge/us-east/content/1');
    expect(edge.statusCode, edge.body).toBe(200);
    expect(edge.headers['x-cache']).toBe('HIT');
    expect(edge.json()).toEqual({ note: 'not a record' });
  });
});
