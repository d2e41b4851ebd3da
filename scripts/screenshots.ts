/**
 * `npm run screenshots`: the demo with a workload, each dashboard page in headless Chromium, a
 * screenshot of each into docs/screenshots/ (1280 px wide, and the Regions page at 390 px). The
 * README shows them. Needs the built dashboard (the npm script builds it) and Chromium.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { Progress } from '../bench/lib/progress.js';
import { startWorkload } from '../packages/freshcache-server/src/demo/workload.js';
import { collectPageErrors, launchChromium } from '../test/testkit/chromium.js';
import { startDashboardServer } from '../test/testkit/dashboard-server.js';

const OUT = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
const WARM_UP_MS = 20_000;

interface Shot {
  file: string;
  path: string;
  heading: string;
  width?: number;
  height?: number;
  /** Brings the page to the state worth showing. */
  prepare?: (page: Page) => Promise<void>;
}

async function editAndWaitForEveryRegion(page: Page): Promise<void> {
  await page.getByLabel('Article').locator('option').first().waitFor({ state: 'attached' });
  await page.getByRole('button', { name: 'Edit article' }).click();
  await page.getByText(/landed in us-east → eu-west → ap-south/).waitFor({ timeout: 10_000 });
}

const SHOTS: Shot[] = [
  // First: the Overview charts the workload, which stops after this shot.
  { file: 'overview.png', path: '/', heading: 'Overview', height: 1500, prepare: (page) => page.locator('figure').first().waitFor() },
  { file: 'regions.png', path: '/regions', heading: 'Regions', height: 1100, prepare: editAndWaitForEveryRegion },
  {
    file: 'content.png',
    path: '/content',
    heading: 'Content',
    height: 1500,
    prepare: async (page) => {
      await page.getByRole('form', { name: /^Edit / }).waitFor();
      await page.getByRole('button', { name: 'CDC invalidation' }).click();
      await page.locator('.demo-result').waitFor({ timeout: 15_000 });
      await page.getByRole('button', { name: 'Read through every region' }).click();
      await page.getByRole('table', { name: 'Reads through every region' }).waitFor();
    },
  },
  { file: 'keys.png', path: '/keys', heading: 'Keys', height: 1100, prepare: (page) => page.locator('table').first().waitFor() },
  { file: 'invalidations.png', path: '/invalidations', heading: 'Invalidations', height: 1300, prepare: (page) => page.locator('table').first().waitFor() },
  { file: 'regions-390.png', path: '/regions', heading: 'Regions', width: 390, height: 1700, prepare: editAndWaitForEveryRegion },
];

const progress = new Progress('screenshots');
progress.update(0, 'starting the demo server');
const server = await startDashboardServer();
const chromium = await launchChromium();
const { items } = await server.demo.store.list({ limit: 500 });
const workload = startWorkload({
  baseUrl: server.url,
  regions: [...server.topology.regions.keys()],
  ids: items.map((i) => i.id),
  rate: 100,
  writeRatio: 0.02,
  clock: server.topology.clock,
});
let failed = false;
try {
  await mkdir(OUT, { recursive: true });
  // The Overview charts need some history: let the workload run first.
  const started = Date.now();
  while (Date.now() - started < WARM_UP_MS) {
    progress.update((0.4 * (Date.now() - started)) / WARM_UP_MS, `workload running, ${workload.counts.reads} reads so far`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  for (const [i, shot] of SHOTS.entries()) {
    progress.update(0.4 + (0.6 * i) / SHOTS.length, shot.file);
    const page = await chromium.browser.newPage({ viewport: { width: shot.width ?? 1280, height: shot.height ?? 900 } });
    const errors = collectPageErrors(page);
    await page.goto(`${server.url}/#${shot.path}`);
    await page.getByRole('heading', { level: 1, name: shot.heading }).waitFor();
    await shot.prepare?.(page);
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: `${OUT}${shot.file}`, fullPage: false });
    if (errors.length > 0) {
      failed = true;
      process.stderr.write(`\n${shot.file}: ${errors.join('; ')}\n`);
    }
    await page.close();
    // The workload's writes (hot articles first) would race the edits and demos of the next pages.
    if (shot.file === 'overview.png') workload.stop();
  }
  progress.done(`${SHOTS.length} screenshots in docs/screenshots/`);
} finally {
  workload.stop();
  await chromium.close();
  await server.close();
}
process.exitCode = failed ? 1 : 0;
