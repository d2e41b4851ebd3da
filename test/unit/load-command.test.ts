import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { LoadReport } from '../../packages/freshcache-server/src/tools/load/load-report.js';
import { runCli } from '../testkit/cli-process.js';

/**
 * A tiny service with the demo's read and write: `PUT /api/content/:id` commits a new version;
 * reads answer the latest one, or, when `stale`, the version the key had before any write.
 */
async function fakeService(stale: boolean): Promise<string> {
  let sequence = 100;
  const versions = new Map<string, number>();
  const server = createServer((request, response) => {
    const write = /^\/api\/content\/(\d+)$/.exec(request.url ?? '');
    const read = /^\/edge\/[^/]+\/content\/(\d+)$/.exec(request.url ?? '');
    request.resume();
    if (request.method === 'PUT' && write) {
      const version = ++sequence;
      versions.set(write[1]!, version);
      request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: Number(write[1]), version })));
    } else if (request.method === 'GET' && read) {
      const version = stale ? 1 : (versions.get(read[1]!) ?? 1);
      response.writeHead(200, { 'content-type': 'application/json', 'x-cache': 'HIT', 'x-cache-version': String(version) }).end('{}');
    } else response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"no route"}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function load(args: string[]): Promise<{ code: number | null; report: LoadReport; stderr: string }> {
  const run = runCli('load', [...args, '--json']);
  const { code } = await run.exit();
  return { code, report: JSON.parse(run.stdout()) as LoadReport, stderr: run.stderr() };
}

describe('freshcache load', () => {
  it('--help describes the options', async () => {
    const run = runCli('load', ['--help']);
    expect((await run.exit()).code).toBe(0);
    for (const option of ['--target', '--rate', '--connections', '--read-ratio', '--zipf', '--read-path', '--sql', '--write-sql', '--delay', '--margin', '--json']) expect(run.stdout()).toContain(option);
  });

  it('without --target exits non-zero and says it needs one', async () => {
    const run = runCli('load', ['--duration', '1s']);
    expect((await run.exit()).code).not.toBe(0);
    expect(run.stderr()).toMatch(/load needs --target URL/);
  });

  it('reports the reads of a service that serves an old version after a write as stale beyond the bound, and exits 3', async () => {
    const url = await fakeService(true);
    const { code, report } = await load(['--target', `fake=${url}`, '--delay', 'fake=0', '--margin', '50', '--duration', '2s', '--rate', '400', '--keys', '5', '--read-ratio', '0.9']);
    expect(code).toBe(3);
    expect(report.writes.ok).toBeGreaterThan(0);
    const [fake] = report.regions;
    expect(fake!.region).toBe('fake');
    expect(fake!.freshness.boundMs).toBe(50);
    expect(fake!.freshness.staleBeyondBound).toBeGreaterThan(0);
    expect(report.totals.staleBeyondBound).toBe(fake!.freshness.staleBeyondBound);
    expect(fake!.freshness.worstAgeMs).toBeGreaterThan(50);
    expect(fake!.freshness.ninesAtLeast).toBe(false);
  });

  it('reports no stale read for the same service when it serves the latest version', async () => {
    const url = await fakeService(false);
    const { code, report } = await load(['--target', `fake=${url}`, '--delay', 'fake=0', '--margin', '50', '--duration', '2s', '--rate', '400', '--keys', '5', '--read-ratio', '0.9']);
    expect(code).toBe(0);
    expect(report.writes.ok).toBeGreaterThan(0);
    expect(report.regions[0]!.freshness.judged).toBeGreaterThan(0);
    expect(report.totals.staleBeyondBound).toBe(0);
  });

  // The demo's one process serves three regions: /api/info names them, /api/regions gives their
  // delays, /api/content the keys. Writes go through its API and reach each region after its delay.
  it('drives the embedded demo: reads in every region, writes through its API, no read stale beyond delay + margin', async () => {
    const demo = runCli('demo', ['--port', '0'], { FRESHCACHE_LOG_LEVEL: 'warn' });
    const [, url] = await demo.untilStdout(/freshcache is running at (http:\/\/\S+)/);
    // A generous margin: the demo and the load share two busy cores; a broken invalidation keeps a
    // key stale until its TTL (minutes), far beyond it.
    const { code, report, stderr } = await load(['--target', url!, '--duration', '3s', '--rate', '300', '--read-ratio', '0.9', '--margin', '500']);
    expect(stderr).not.toMatch(/delay of region .* is unknown/);
    expect(report.regions.map((r) => [r.region, r.freshness.delayMs > 0])).toEqual([
      ['us-east', true],
      ['eu-west', true],
      ['ap-south', true],
    ]);
    expect(report.writes.ok).toBeGreaterThan(0);
    expect(report.writes.failed).toBe(0);
    expect(report.totals.failedReads).toBe(0);
    for (const region of report.regions) {
      expect(region.freshness.judged, region.region).toBeGreaterThan(0);
      expect(region.hitRatio, region.region).toBeGreaterThan(0);
    }
    expect(report.totals.staleBeyondBound).toBe(0);
    expect(code).toBe(0);
    demo.child.kill('SIGTERM');
    await demo.exit();
  }, 90_000);
});
