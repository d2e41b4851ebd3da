import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectPageErrors, launchChromium } from '../testkit/chromium.js';

/**
 * The built dashboard's Cluster page in headless Chromium on the control process of a real
 * `freshcache up --nodes 2` (Redis, PostgreSQL, nginx, two nodes per region): the nodes per
 * region, the Redis server, a chaos pause and resume and a drain, each confirmed in the page; and
 * a purge from the Keys page of that process, which serves no region. Run
 * `npm run build --silent` first: the control process serves the built dashboard.
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
