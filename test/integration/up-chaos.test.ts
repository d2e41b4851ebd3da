import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadReport } from '../../packages/freshcache-server/src/tools/load/load-report.js';
import { runCli } from '../testkit/cli-process.js';
import { freshnessSummary, loadProgressCount, loadProgressLines } from '../testkit/load.js';
import { startUp } from '../testkit/start-up.js';
import { chaosCli, isRunning, processState } from '../testkit/up-processes.js';
import type { UpProcess } from '../testkit/start-up.js';

/**
 * `freshcache up --nodes 2` behind nginx, broken on purpose: a node killed under `freshcache load`
 * through the regions' nginx costs no read and no read stale beyond its bound (the load's own
 * report says so), and the node comes back fresh; `freshcache chaos pause` hangs a
 * node and `resume` brings it back; and a SIGKILL of `up` itself leaves none of its processes.
 * The tests share one `up` (starting one takes seconds); the last one kills it.
 */

let home: string;
let up: UpProcess;
let stateFile: string;
const { chaos, services } = chaosCli(() => stateFile);
let urls: { control: string; regions: string[]; node1: string; node2: string };

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'freshcache-home-'));
  up = startUp(['--port', '0', '--capture', 'outbox', '--nodes', '2'], { ...process.env, HOME: home });
  await up.until(/Ctrl-C stops everything/);
  const out = up.output();
  const url = (pattern: RegExp) => pattern.exec(out)![1]!;
  urls = {
    control: url(/control \(API, relay\)\s+(http:\/\/\S+)/),
    regions: ['us-east', 'eu-west', 'ap-south'].map((region) => url(new RegExp(`${region} \\(nginx\\)\\s+(http://\\S+)`))),
    node1: url(/us-east-1\s+(http:\/\/\S+)/),
    node2: url(/us-east-2\s+(http:\/\/\S+)/),
  };
  stateFile = /--state (\S+)/.exec(out)![1]!;
}, 120_000);

afterAll(async () => {
  if (up && up.child.exitCode === null && up.child.signalCode === null) {
    up.child.kill('SIGINT');
    await up.exited;
  }
  await rm(home, { recursive: true, force: true });
});

describe('freshcache up, self-healing behind nginx', () => {
  it('loses no read through the region nginx when a node is killed under freshcache load, restarts the node, and the node serves fresh', async () => {
    const before = await services();
    const from = up.output().length;
    // freshcache load through the three regions' nginx, writing through the control process's API,
    // until this test stops it (SIGINT: it reports what ran). The margin: the deployment and the
    // load share two busy cores; an invalidation that never arrives keeps a key stale for minutes.
    const regionLoad = runCli('load', ['--target', urls.regions.join(','), '--write-url', urls.control, '--duration', '60s', '--rate', '200', '--read-ratio', '0.9', '--margin', '500', '--json']);
    await regionLoad.untilStderr(loadProgressLines(1)); // reads flow
    await chaos('kill', 'us-east-1'); // SIGKILL, as a crash
    await up.until(/us-east-1 is back/, from);
    // Three more seconds of load by its own clock: past nginx's fail_timeout (2 s), reads reach the restarted node again.
    await regionLoad.untilStderr(loadProgressLines(loadProgressCount(regionLoad.stderr()) + 3));
    regionLoad.child.kill('SIGINT');
    const exit = await regionLoad.exit();
    const report = JSON.parse(regionLoad.stdout()) as LoadReport;
    expect(report.totals.failedReads, regionLoad.stderr()).toBe(0);
    expect(report.regions.map((r) => r.region)).toEqual(['us-east', 'eu-west', 'ap-south']);
    for (const region of report.regions) expect(region.freshness.judged, region.region).toBeGreaterThan(0);
    expect(report.writes.ok).toBeGreaterThan(0);
    expect(report.totals.staleBeyondBound, freshnessSummary(report)).toBe(0);
    expect(exit.code).toBe(0);
    const after = await services();
    expect(after.get('us-east-1')).not.toBe(before.get('us-east-1'));
    expect(after.get('us-east-2')).toBe(before.get('us-east-2'));

    // The restarted node on its own: it serves what changed while it was down (it replays the
    // log)… The region's delay is 100 ms: waiting for the state, bounded far above it.
    const origin = ((await (await fetch(`${urls.control}/api/content?limit=500`)).json()) as { items: { id: number; version: number }[] }).items;
    const deadline = Date.now() + 10_000;
    for (const { id, version } of origin) {
      let served: number;
      do served = await servedVersion(`${urls.node1}/edge/us-east/content/${id}`);
      while (served !== version && Date.now() < deadline);
      expect(served, `us-east-1 content ${id}`).toBe(version);
    }
    // …and keeps up with new writes under load.
    const nodeLoad = runCli('load', ['--target', urls.node1, '--write-url', urls.control, '--duration', '2s', '--rate', '100', '--read-ratio', '0.8', '--margin', '500', '--json']);
    const nodeExit = await nodeLoad.exit();
    const nodeReport = JSON.parse(nodeLoad.stdout()) as LoadReport;
    expect(nodeReport.regions.map((r) => [r.region, r.failed])).toEqual([['us-east', 0]]);
    expect(nodeReport.regions[0]!.freshness.judged).toBeGreaterThan(0);
    expect(nodeReport.writes.ok).toBeGreaterThan(0);
    expect(nodeReport.totals.staleBeyondBound, freshnessSummary(nodeReport)).toBe(0);
    expect(nodeExit.code).toBe(0);
  }, 120_000);

  it('hangs a node with chaos pause and brings it back with a resume through the control process API', async () => {
    const pid = (await services()).get('us-east-2')!;
    expect(await chaos('pause', 'us-east-2')).toMatch(/us-east-2\s+paused/);
    expect(await processState(pid)).toBe('T');
    let answered = false;
    const pending = fetch(`${urls.node2}/health`).then((res) => {
      answered = true;
      return res.status;
    });
    // A whole chaos command (a process start) runs while the request waits: a hung node does not answer.
    expect(await chaos('list')).toMatch(/us-east-2\s+paused/);
    expect(answered).toBe(false);
    // The dashboard's way: POST /api/chaos on the control process, which up told where to find it.
    const chaosApi = (body: object) => fetch(`${urls.control}/api/chaos`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const unknown = await chaosApi({ action: 'resume', target: 'us-east-9' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const resumed = await chaosApi({ action: 'resume', target: 'us-east-2' });
    expect(await resumed.json()).toMatchObject({ name: 'us-east-2', state: 'running', pid });
    expect(await pending).toBe(200);
  }, 60_000);

  it('leaves no redis-server, postgres, nginx or node process behind when up itself is killed with SIGKILL', async () => {
    const pids = [...(await services()).values()];
    expect(pids.length).toBe(10); // redis, postgres, control, six nodes, nginx
    up.child.kill('SIGKILL');
    await up.exited;
    // The watchdog signals them at once; they take a moment to exit. Bounded: 15 s.
    const deadline = Date.now() + 15_000;
    let alive = pids;
    while (alive.length > 0 && Date.now() < deadline) {
      alive = (await Promise.all(pids.map(async (pid) => ((await isRunning(pid)) ? pid : 0)))).filter(Boolean);
      if (alive.length > 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(await Promise.all(alive.map(describePid))).toEqual([]);
  }, 60_000);
});

/** The version a read was answered with (X-Cache-Version). */
async function servedVersion(url: string): Promise<number> {
  const response = await fetch(url);
  await response.arrayBuffer();
  return Number(response.headers.get('x-cache-version'));
}


async function describePid(pid: number): Promise<string> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '?');
  return `${pid} ${cmdline.replace(/\0/g, ' ')}`;
}
