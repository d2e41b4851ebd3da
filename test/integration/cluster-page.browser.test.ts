import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { collectPageErrors, launchChromium } from '../testkit/chromium.js';
import { startRedisCluster } from '../testkit/redis-cluster.js';
import type { RedisCluster } from '../testkit/redis-cluster.js';
import { startRedis } from '../testkit/redis-server.js';
import type { RedisServer } from '../testkit/redis-server.js';
import { openTopology, serverAppsOf } from '../testkit/test-topology.js';

/**
 * The built dashboard's Cluster page in headless Chromium on the control process of a real
 * `freshcache up --nodes 2` (Redis, PostgreSQL, nginx, two nodes per region): the nodes per
 * region, the Redis server, a chaos pause and resume and a drain, each confirmed in the page; and
 * a purge from the Keys page of that process, which serves no region. And on a server whose L2
 * and log are on the test kit's Redis Cluster with replicas: the slot ring in each primary's
 * colour, a primary added after a confirmation with its progress, and a kill -9 of a primary
 * listed as a failover. Run `npm run build --silent` first: the servers serve the built dashboard.
 */
const MAIN = resolve(import.meta.dirname, '../../packages/freshcache-server/src/cli/main.ts');

let home: string;
let child: ReturnType<typeof spawn>;
let exited: Promise<void>;
let control: string;
let usEastNode: string;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let browser: Browser;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'freshcache-home-'));
  child = spawn(process.execPath, ['--conditions=freshcache-source', '--import', 'tsx', MAIN, 'up', '--port', '0', '--capture', 'outbox', '--nodes', '2'], {
    env: { ...process.env, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((done) => child.once('exit', () => done()));
  let output = '';
  await new Promise<void>((ready, fail) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ctrl-C stops everything/.test(output)) ready();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', () => fail(new Error(`up exited:\n${output}`)));
  });
  control = /control \(API, relay\)\s+(http:\/\/\S+)/.exec(output)![1]!;
  usEastNode = /us-east-1\s+(http:\/\/\S+)/.exec(output)![1]!;
  chromium = await launchChromium();
  browser = chromium.browser;
}, 120_000);

afterAll(async () => {
  await chromium?.close();
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGINT');
    await exited;
  }
  await rm(home, { recursive: true, force: true });
});

describe('the Cluster page on freshcache up', () => {
  it('lists the nodes per region and the Redis server, and pauses and resumes a node after a confirmation', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await page.goto(`${control}/#/cluster`);
    const usEast = page.getByRole('table', { name: 'us-east', exact: true });
    await usEast.getByRole('row', { name: /^us-east-1\b/ }).getByText('up', { exact: true }).waitFor();
    await usEast.getByRole('row', { name: /^us-east-2\b/ }).getByText('up', { exact: true }).waitFor();
    await page.getByRole('table', { name: 'Redis servers' }).getByText('master').waitFor();
    // up's standalone Redis: one server owning every slot on the ring, and a note that it has none.
    await page.getByRole('img', { name: /^Hash slot ring: 127\.0\.0\.1:\d+ 16,384 slots$/ }).waitFor();
    await page.getByText('Standalone Redis: no hash slots', { exact: false }).waitFor();

    const processes = page.getByRole('table', { name: 'Processes of this deployment' });
    await processes.getByRole('button', { name: 'Pause us-east-2' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Pause us-east-2' }).click();
    await processes.getByRole('row', { name: /^us-east-2\b/ }).getByText('paused', { exact: true }).waitFor();
    // Paused, it stops heartbeating: the node list turns it down.
    await usEast.getByRole('row', { name: /^us-east-2\b/ }).getByText('down', { exact: true }).waitFor();

    await processes.getByRole('button', { name: 'Resume us-east-2' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Resume us-east-2' }).click();
    await processes.getByRole('row', { name: /^us-east-2\b/ }).getByText('running', { exact: true }).waitFor();
    await usEast.getByRole('row', { name: /^us-east-2\b/ }).getByText('up', { exact: true }).waitFor();
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('drains a node after a confirmation: it leaves the list, its region keeps the other', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 900 } });
    const errors = collectPageErrors(page);
    await page.goto(`${control}/#/cluster`);
    const usEast = page.getByRole('table', { name: 'us-east', exact: true });
    await usEast.getByRole('button', { name: 'Drain us-east-2' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Drain us-east-2' }).click();
    await page.getByRole('status').getByText('Draining us-east-2', { exact: false }).waitFor();
    await usEast.getByRole('row', { name: /^us-east-2\b/ }).waitFor({ state: 'detached' });
    await usEast.getByRole('row', { name: /^us-east-1\b/ }).getByText('up', { exact: true }).waitFor();
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});

describe('the Keys page on the control process of freshcache up', () => {
  it('purges a key it lists and shows every region applying it, then reloads the keys without it', async () => {
    // Something to purge: read an article through a us-east node, so us-east caches it.
    expect((await fetch(`${usEastNode}/edge/us-east/content/3`)).status).toBe(200);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await page.goto(`${control}/#/keys`);
    await page.getByLabel('Region').selectOption('us-east');
    const prefix = page.getByRole('searchbox', { name: 'Key prefix' });
    await prefix.fill('content:3');
    await prefix.press('Enter');
    await page.getByLabel('Select content:3', { exact: true }).check();
    await page.getByRole('button', { name: 'Invalidate selected (1)' }).click();
    await page.getByRole('button', { name: 'Invalidate 1 key' }).click();

    // This process serves no region: no 'invalidation.applied' reaches the page, only what the
    // server answers from the nodes' apply marks.
    const progress = page.getByRole('list', { name: /^Regions of invalidation #\d+$/ });
    for (const region of ['us-east', 'eu-west', 'ap-south']) {
      await progress.getByRole('listitem').filter({ hasText: region }).getByText(/applied \(/).waitFor({ timeout: 10_000 });
    }
    await page.getByText(/applied in every region\./).waitFor();
    await page.getByRole('button', { name: 'content:3', exact: true }).waitFor({ state: 'detached' });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});

describe('the Cluster page on a Redis Cluster with replicas', () => {
  let cluster: RedisCluster;
  let newcomer: RedisServer;
  let topology: Topology;
  let app: FastifyInstance;
  let server: string;

  beforeAll(async () => {
    cluster = await startRedisCluster({ replicas: 1, nodeTimeoutMs: 1_000 });
    newcomer = await startRedis({ cluster: true });
    const redis = { cluster: cluster.nodes };
    topology = await openTopology({ config: { log: { kind: 'redis', redis }, l2: { kind: 'redis', redis } } });
    app = await buildApp({ topology, apps: serverAppsOf(topology) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    server = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await topology?.close();
    await newcomer?.stop();
    await cluster?.stop();
  });

  it("draws the slot ring in each primary's colour with its replicas, adds a primary after a confirmation, and lists a failover", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await page.goto(`${server}/#/cluster`);
    const primaries = cluster.servers.filter((n) => n.role === 'primary');
    const legend = page.getByRole('list', { name: 'Primaries' });
    await legend.getByRole('listitem', { name: /^Primary / }).nth(2).waitFor();
    expect(await legend.getByRole('listitem', { name: /^Primary / }).count()).toBe(3);

    // Each primary's arcs on the ring are drawn in its legend colour, and the three colours differ.
    const colours = new Set<string>();
    for (const primary of primaries) {
      const address = `127.0.0.1:${primary.server.port}`;
      const item = legend.getByRole('listitem', { name: `Primary ${address}` });
      const colour = (await item.locator('.swatch').getAttribute('data-colour'))!;
      colours.add(colour);
      const arcs = page.locator(`svg.slot-ring path[data-primary="${address}"]`);
      expect(await arcs.count()).toBeGreaterThan(0);
      // As painted (the page's own getComputedStyle; the tests' types have no DOM).
      const painted = await arcs.evaluateAll((paths) => paths.map((p) => (globalThis as unknown as { getComputedStyle(e: unknown): { fill: string } }).getComputedStyle(p).fill));
      for (const fill of painted) expect(fill).toBe(hexToRgb(colour));
      const replica = cluster.servers.find((n) => n.replicaOf === primary.name)!;
      await item.getByRole('list', { name: `Replicas of ${address}` }).getByText(`127.0.0.1:${replica.server.port}`).waitFor();
    }
    expect(colours.size).toBe(3);
    await page.getByRole('img', { name: /^Hash slot ring/ }).getByText('slots, all served').waitFor();

    // Add a primary: nothing is sent before the confirmation; then the progress, and the ring gets a fourth colour.
    const added = `${newcomer.host}:${newcomer.port}`;
    await page.getByLabel('New primary').fill(added);
    await page.getByRole('button', { name: 'Add node', exact: true }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Cancel' }).click();
    expect(((await (await fetch(`${server}/api/rebalance`)).json()) as { progress: unknown }).progress).toBeNull();
    await page.getByRole('button', { name: 'Add node', exact: true }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: `Add ${added}` }).click();
    await page.getByText(new RegExp(`Last: add-node ${added.replaceAll('.', '\\.')} done at .*, 4,096 slots moved`)).waitFor({ timeout: 60_000 });
    await legend.getByRole('listitem', { name: `Primary ${added}` }).getByText('4,096 slots', { exact: false }).waitFor();
    const addedColour = (await legend.getByRole('listitem', { name: `Primary ${added}` }).locator('.swatch').getAttribute('data-colour'))!;
    expect(colours.has(addedColour)).toBe(false);

    // kill -9 of a primary: its replica takes over, and the page lists the failover as it happens.
    const victim = primaries[0]!;
    const heir = cluster.servers.find((n) => n.replicaOf === victim.name)!;
    await victim.server.kill();
    await page
      .getByRole('list', { name: 'Failovers' })
      .getByText(`127.0.0.1:${victim.server.port} failed over to 127.0.0.1:${heir.server.port}`, { exact: false })
      .waitFor({ timeout: 30_000 });
    await legend.getByRole('listitem', { name: `Primary 127.0.0.1:${heir.server.port}` }).waitFor();
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});

/** `#4fb3ff` as getComputedStyle writes it. */
function hexToRgb(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
  return `rgb(${r}, ${g}, ${b})`;
}
