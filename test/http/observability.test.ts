import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { demoOf, testApp } from '../testkit/test-topology.js';
import { createContent } from './http-kit.js';

describe('health, readiness, metrics and docs', () => {
  it('GET /health and /ready answer 200; /ready says 503 once the relay stops', async () => {
    const { app, topology } = await testApp();
    const health = await app.inject('/health');
    expect([health.statusCode, health.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await app.inject('/ready');
    expect([ready.statusCode, ready.json()]).toEqual([200, { status: 'ready', checks: { origin: 'ok', relay: 'ok' } }]);

    await topology.relay!.stop();
    const notReady = await app.inject('/ready');
    expect([notReady.statusCode, notReady.json()]).toEqual([503, { status: 'not_ready', checks: { origin: 'ok', relay: 'stopped' } }]);
  });

  it('GET /api/metrics counts the reads of an unknown id answered from a remembered not_found (negative caching)', async () => {
    const { app } = await testApp();
    for (let i = 0; i < 3; i++) expect((await app.inject('/edge/us-east/content/424242')).statusCode).toBe(404);
    const { regions } = (await app.inject('/api/metrics')).json<{ regions: Record<string, { requests: { negativeHits: number; originFetches: number } }> }>();
    expect(regions['us-east']!.requests.negativeHits).toBe(2);
  });

  it('GET /metrics is Prometheus text with freshcache_cache_requests_total per region', async () => {
    const clock = new ManualClock();
    const { app, topology } = await testApp({ clock });
    const record = await createContent(app, topology, { slug: 'm', title: 'M' });
    await clock.advanceAsync(1_000); // the insert's own invalidation lands everywhere first
    await app.inject(`/edge/us-east/content/${record.id}`);
    await app.inject(`/edge/us-east/content/${record.id}`);

    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(text).toContain('# TYPE freshcache_cache_requests_total counter');
    for (const region of ['us-east', 'eu-west', 'ap-south']) expect(text).toContain(`freshcache_cache_requests_total{region="${region}"`);
    expect(text).toMatch(/freshcache_cache_requests_total\{region="us-east",tier="origin",result="miss"\} 1\b/);
    expect(text).toMatch(/freshcache_cache_requests_total\{region="us-east",tier="l1",result="hit"\} 1\b/);
    expect(text).toMatch(/freshcache_edge_request_duration_seconds_count\{region="us-east",route="content",cache="HIT"\} 1\b/);
  });

  it('GET /api/metrics has p50/p90/p95/p99 per region', async () => {
    const clock = new ManualClock();
    const { app, topology } = await testApp({ clock });
    const record = await createContent(app, topology, { slug: 'm', title: 'M' });
    await clock.advanceAsync(1_000); // the insert's own invalidation lands everywhere first
    for (let i = 0; i < 3; i++) await app.inject(`/edge/eu-west/content/${record.id}`);

    const res = await app.inject('/api/metrics');
    expect(res.statusCode).toBe(200);
    const body = res.json<{ at: string; regions: Record<string, { latencyMs: Record<string, number | null>; invalidationLagMs: Record<string, number | null>; hitRatio: number | null; requests: Record<string, number> }> }>();
    expect(Number.isNaN(Date.parse(body.at))).toBe(false);
    expect(Object.keys(body.regions)).toEqual(['us-east', 'eu-west', 'ap-south']);
    for (const region of Object.values(body.regions)) {
      expect(Object.keys(region.latencyMs).sort()).toEqual(['count', 'p50', 'p90', 'p95', 'p99']);
      expect(Object.keys(region.invalidationLagMs).sort()).toEqual(['count', 'p50', 'p90', 'p95', 'p99']);
    }
    const eu = body.regions['eu-west']!;
    expect(eu.latencyMs.count).toBe(3);
    for (const p of ['p50', 'p90', 'p95', 'p99']) expect(eu.latencyMs[p]).toEqual(expect.any(Number));
    expect(eu.requests).toMatchObject({ misses: 1, originFetches: 1 });
    expect(eu.hitRatio).toBeCloseTo(2 / 3);
    expect(body.regions['us-east']!.latencyMs).toEqual({ count: 0, p50: null, p90: null, p95: null, p99: null });
  });

  it('GET /docs serves the OpenAPI UI and /docs/json lists the routes', async () => {
    const { app } = await testApp();
    const ui = await app.inject('/docs');
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/^text\/html/);

    const res = await app.inject('/docs/json');
    expect(res.statusCode).toBe(200);
    const spec = res.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
    expect(spec.openapi).toMatch(/^3\./);
    const routes = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /health',
        'GET /ready',
        'GET /metrics',
        'GET /api/metrics',
        'GET /api/cache',
        'PUT /api/cache/{key}',
        'GET /api/cache/{key}',
        'DELETE /api/cache/{key}',
        'POST /api/invalidate',
        'GET /api/invalidations',
        'GET /api/invalidations/{id}',
        'POST /api/content',
        'GET /api/content',
        'GET /api/content/{id}',
        'PUT /api/content/{id}',
        'DELETE /api/content/{id}',
        'GET /edge/{region}/content/{id}',
        'GET /api/regions',
        'PATCH /api/regions/{name}',
        'GET /api/events',
      ]),
    );
  });

  it('echoes a caller-given x-request-id; makes one up for errors; leaves it off untraceable successes', async () => {
    const { app, topology } = await testApp();
    expect((await app.inject({ url: '/health', headers: { 'x-request-id': 'trace-123' } })).headers['x-request-id']).toBe('trace-123');
    // The edge read sets it itself (no hook on the hot path): on a hit and on an error alike.
    const record = await demoOf(topology).store.create({ slug: 'traced', title: 'T' });
    const hit = await app.inject({ url: `/edge/us-east/content/${record.id}`, headers: { 'x-request-id': 'trace-edge' } });
    expect(hit.statusCode).toBe(200);
    expect(hit.headers['x-request-id']).toBe('trace-edge');
    const missing = await app.inject({ url: '/edge/us-east/content/999999', headers: { 'x-request-id': 'trace-404' } });
    expect([missing.statusCode, missing.headers['x-request-id']]).toEqual([404, 'trace-404']);
    // Errors always carry one, made up when the caller sent none: a per-process prefix and a counter.
    const first = (await app.inject('/nope')).headers['x-request-id'];
    const second = (await app.inject('/edge/us-east/content/999999')).headers['x-request-id'];
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    expect(second).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    expect(second).not.toBe(first);
    // At info level a success is not logged, so an id on it would point nowhere: none is sent.
    expect((await app.inject('/health')).headers['x-request-id']).toBeUndefined();
    expect((await app.inject(`/edge/us-east/content/${record.id}`)).headers['x-request-id']).toBeUndefined();
  });
});
