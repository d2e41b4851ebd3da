import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import type { HistoryAnswer } from '../../packages/freshcache-server/src/observability/metrics-history.js';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import { VERSION } from '../../packages/freshcache/src/version.js';
import { testApp, testTopology } from '../testkit/test-topology.js';
import { createContent, expectError, JSON_HEADERS } from './http-kit.js';

describe('GET /api/metrics/history', () => {
  it('has a point per second with the rates, hit ratio and latency of that second alone', async () => {
    const clock = new ManualClock();
    const { app, topology } = await testApp({ clock });
    const record = await createContent(app, topology, { slug: 'h', title: 'H' });
    await clock.advanceAsync(1_000); // the insert's invalidation lands everywhere; one step of baseline

    for (let i = 0; i < 3; i++) await app.inject(`/edge/eu-west/content/${record.id}`); // MISS, HIT, HIT
    await clock.advanceAsync(1_000);
    await app.inject(`/edge/eu-west/content/${record.id}`); // HIT
    await clock.advanceAsync(1_000);

    const history = (await app.inject('/api/metrics/history?window=1m')).json<HistoryAnswer>();
    expect(history.window).toBe('1m');
    expect(history.stepMs).toBe(1_000);
    const [busy, quiet] = history.points.slice(-2).map((p) => p.regions['eu-west']!);
    expect(busy).toMatchObject({ requestsPerSec: 3, hitRatio: 0.667, originFetchesPerSec: 1, staleReadsPerSec: 0 });
    expect(busy!.latencyP50).toBeGreaterThan(0);
    expect(quiet).toMatchObject({ requestsPerSec: 1, hitRatio: 1, originFetchesPerSec: 0 });
    // A region nobody read from has rates of zero and no percentiles, not made-up figures.
    expect(history.points.at(-1)!.regions['us-east']).toMatchObject({ requestsPerSec: 0, hitRatio: null, latencyP50: null, lagP99: null });
    expect(history.points.at(-1)!.t).toBe(clock.now());
  });

  it('shows the invalidation lag of each region in the step it was applied', async () => {
    const clock = new ManualClock();
    const { app } = await testApp({ clock });
    await clock.advanceAsync(1_000);
    const purge = await app.inject({ method: 'POST', url: '/api/invalidate', headers: JSON_HEADERS, payload: { tags: ['news'] } });
    expect(purge.statusCode).toBe(202);
    await clock.advanceAsync(1_000);
    const point = (await app.inject('/api/metrics/history')).json<HistoryAnswer>().points.at(-1)!;
    expect(point.regions['us-east']!.lagP99).toBe(100);
    expect(point.regions['eu-west']!.lagP99).toBe(300);
    expect(point.regions['ap-south']!.lagP99).toBe(600);
  });

  it('keeps 10 s steps for the last hour, and at most 60 points for a minute', async () => {
    const clock = new ManualClock();
    const { app } = await testApp({ clock });
    await clock.advanceAsync(120_000);
    const minute = (await app.inject('/api/metrics/history?window=1m')).json<HistoryAnswer>();
    expect(minute.points).toHaveLength(60);
    const hour = (await app.inject('/api/metrics/history?window=1h')).json<HistoryAnswer>();
    expect(hour.stepMs).toBe(10_000);
    expect(hour.points).toHaveLength(12);
  });

  it('refuses an unknown window with 400 bad_request', async () => {
    const { app } = await testApp();
    expectError(await app.inject('/api/metrics/history?window=2d'), 400, 'bad_request');
    expectError(await app.inject('/api/metrics/history?since=1'), 400, 'bad_request');
  });
});

describe('GET /api/info', () => {
  it('names the version, regions, roles, adapters and the features not enabled', async () => {
    const { app } = await testApp();
    const res = await app.inject('/api/info');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      name: 'freshcache',
      version: VERSION,
      regions: ['us-east', 'eu-west', 'ap-south'],
      roles: { regions: ['us-east', 'eu-west', 'ap-south'], relay: true },
      adapters: { origin: 'pglite', capture: 'outbox', log: 'memory', l2: 'memory' },
      apps: ['content'],
      features: { cluster: false, warming: false, audit: false, backup: false },
      chaos: false,
    });
  });

  it('says chaos is offered on the control process of freshcache up, the one that has its endpoint', async () => {
    // `up` hands its control process this variable; /api/chaos forwards to it.
    process.env.FRESHCACHE_UP_CONTROL = 'http://127.0.0.1:9';
    onTestFinished(() => {
      delete process.env.FRESHCACHE_UP_CONTROL;
    });
    const { app } = await testApp();
    expect((await app.inject('/api/info')).json()).toMatchObject({ chaos: true });
  });
});

describe('the dashboard at /', () => {
  async function appWithDashboard(files: Record<string, string>) {
    const dir = await mkdtemp(join(tmpdir(), 'freshcache-dashboard-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    for (const [name, text] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), text);
    }
    const topology = await testTopology();
    const app = await buildApp({ topology, dashboardDir: dir });
    onTestFinished(() => app.close());
    return { app, dir };
  }

  it('serves the built page (never cached) and its hashed assets (cached for a year)', async () => {
    const { app } = await appWithDashboard({ 'index.html': '<!doctype html><title>freshcache</title>', 'assets/index-abc123.js': 'console.log(1)' });
    const page = await app.inject('/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.body).toContain('<title>freshcache</title>');
    const asset = await app.inject('/assets/index-abc123.js');
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('serves a rebuild without a restart: assets written after start are found', async () => {
    const { app, dir } = await appWithDashboard({ 'index.html': '<!doctype html><script src="assets/old.js"></script>' });
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'assets', 'new-123.js'), 'console.log(2)');
    await writeFile(join(dir, 'index.html'), '<!doctype html><script src="assets/new-123.js"></script>');
    expect((await app.inject('/')).body).toContain('new-123.js');
    expect((await app.inject('/assets/new-123.js')).statusCode).toBe(200);
  });

  it('leaves every other path to the API: an unknown one is still a JSON 404', async () => {
    const { app } = await appWithDashboard({ 'index.html': '<!doctype html>' });
    expectError(await app.inject('/api/nope'), 404, 'not_found');
    expectError(await app.inject('/assets/missing.js'), 404, 'not_found');
    expect((await app.inject('/api/regions')).statusCode).toBe(200);
  });

  it('says how to build it when it is not built, and serves a build made later', async () => {
    const { app, dir } = await appWithDashboard({});
    const page = await app.inject('/');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('npm run build');
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>built later</title>');
    await writeFile(join(dir, 'assets', 'a-1.js'), 'console.log(3)');
    expect((await app.inject('/')).body).toContain('built later');
    expect((await app.inject('/assets/a-1.js')).statusCode).toBe(200);
  });
});
