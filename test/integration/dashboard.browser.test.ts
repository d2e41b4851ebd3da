import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectPageErrors, launchChromium } from '../testkit/chromium.js';
import { startDashboardServer } from '../testkit/dashboard-server.js';

/**
 * The built dashboard in headless Chromium against the real server (`npm start`'s demo: embedded
 * parts, the three regions with their delays). Waits are Playwright's: for an element or a text
 * to appear, never a fixed sleep.
 */
describe('dashboard in Chromium', () => {
  let server: Awaited<ReturnType<typeof startDashboardServer>>;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let browser: Browser;

  beforeAll(async () => {
    server = await startDashboardServer();
    chromium = await launchChromium();
    browser = chromium.browser;
  });

  afterAll(async () => {
    await chromium?.close();
    await server?.close();
  });

  /** A page at `width` px whose console errors and uncaught exceptions are collected. */
  async function open(path: string, width = 1280): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const errors = collectPageErrors(page);
    await page.goto(`${server.url}/#${path}`);
    return { page, errors };
  }

  const PAGES = [
    { path: '/', heading: 'Overview' },
    { path: '/regions', heading: 'Regions' },
    { path: '/content', heading: 'Content' },
    { path: '/keys', heading: 'Keys' },
    { path: '/invalidations', heading: 'Invalidations' },
    { path: '/cluster', heading: 'Cluster' },
    { path: '/warming', heading: 'Warming', notEnabled: true },
    { path: '/audit', heading: 'Audit', notEnabled: true },
  ];

  for (const width of [1280, 390]) {
    it(`opens every page at ${width} px with no console error and nothing wider than the screen`, async () => {
      for (const { path, heading, notEnabled } of PAGES) {
        const { page, errors } = await open(path, width);
        await page.getByRole('heading', { level: 1, name: heading }).waitFor();
        if (notEnabled) await page.getByText('Not enabled').waitFor();
        // Let the page's first requests settle, so their errors (if any) are in.
        await page.waitForLoadState('networkidle');
        // A string, evaluated in the page: this file is compiled without the DOM's types.
        const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'));
        expect(overflow, `${path} at ${width} px scrolls sideways by ${overflow} px`).toBeLessThanOrEqual(0);
        expect(errors, `${path} at ${width} px`).toEqual([]);
        await page.close();
      }
    });
  }

  it('reaches every page from the keyboard', async () => {
    const { page, errors } = await open('/');
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const reached: string[] = [];
    for (let i = 0; i < 12 && reached.length < PAGES.length; i++) {
      await page.keyboard.press('Tab');
      const label = (await page.evaluate("document.activeElement?.closest('nav') ? document.activeElement.textContent : null")) as string | null;
      if (label) reached.push(label);
    }
    expect(reached).toEqual(PAGES.map((p) => p.heading));
    await page.keyboard.press('Enter'); // the last one reached: Audit
    await page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('previews a purge, purges, and shows each region applying it', async () => {
    const { page, errors } = await open('/invalidations');
    // Something to purge: read two articles through us-east so they are cached there.
    for (const id of [1, 2]) expect((await fetch(`${server.url}/edge/us-east/content/${id}`)).status).toBe(200);
    await page.getByLabel('Keys').fill('content:1, content:2');
    await page.getByRole('button', { name: 'Preview' }).click();
    // The dry run lists what us-east holds: both keys, before anything is purged. (The history
    // below lists content:1 too, from the seed's invalidations: look in the preview only.)
    const preview = page.getByRole('region', { name: 'Preview us-east' });
    await preview.getByText('content:1', { exact: true }).waitFor();
    await preview.getByText('content:2', { exact: true }).waitFor();

    await page.getByRole('button', { name: 'Purge' }).click();
    await page.getByText(/applied in every region/).waitFor({ timeout: 10_000 });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('edits an article on the Regions page and shows every region applying it, in delay order', async () => {
    const { page, errors } = await open('/regions');
    await page.getByRole('heading', { level: 1, name: 'Regions' }).waitFor();
    const article = page.getByLabel('Article');
    await article.locator('option').first().waitFor({ state: 'attached' });
    await page.getByRole('button', { name: 'Edit article' }).click();

    const card = (region: string) => page.getByRole('listitem', { name: region });
    const landed: { region: string; lagMs: number; rank: string }[] = [];
    for (const region of ['us-east', 'eu-west', 'ap-south']) {
      const applied = card(region).getByText(/applied \+\d+ ms/);
      await applied.waitFor({ timeout: 10_000 });
      const text = (await card(region).locator('.landing').textContent()) ?? '';
      landed.push({ region, lagMs: Number(/applied \+(\d+) ms/.exec(text)?.[1]), rank: /(1st|2nd|3rd)/.exec(text)?.[1] ?? '?' });
    }
    expect(landed.map((l) => l.rank)).toEqual(['1st', '2nd', '3rd']);
    // Each lands after its delay (100, 300, 600 ms, ±10 % jitter), so in delay order.
    expect(landed[0]!.lagMs).toBeLessThan(landed[1]!.lagMs);
    expect(landed[1]!.lagMs).toBeLessThan(landed[2]!.lagMs);
    expect(landed[0]!.lagMs).toBeGreaterThanOrEqual(90);
    await page.getByText(/landed in us-east → eu-west → ap-south/).waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('switches a region to lazy from the Regions page', async () => {
    const { page, errors } = await open('/regions');
    await page.waitForLoadState('networkidle');
    const strategy = page.getByLabel('Strategy of eu-west');
    expect(await strategy.inputValue()).toBe('eager');
    const strategyOfEuWest = async () => ((await (await fetch(`${server.url}/api/regions`)).json()) as { items: { name: string; strategy: string }[] }).items.find((r) => r.name === 'eu-west')!.strategy;
    for (const wanted of ['lazy', 'eager']) {
      const patched = page.waitForResponse((r) => r.url().endsWith('/api/regions/eu-west') && r.request().method() === 'PATCH');
      await strategy.selectOption(wanted);
      expect((await patched).status()).toBe(200);
      expect(await strategyOfEuWest()).toBe(wanted);
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('edits content at the origin and reads it through every region side by side', async () => {
    const { page, errors } = await open('/content');
    const form = page.getByRole('form', { name: /^Edit / });
    await form.waitFor();
    const title = `Edited in Chromium ${Date.now()}`;
    await form.getByLabel('Title').fill(title);
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: 'Read through every region' }).click();
    const reads = page.getByRole('table', { name: 'Reads through every region' });
    await reads.getByRole('row', { name: /origin/ }).getByText(title).waitFor();
    for (const region of ['us-east', 'eu-west', 'ap-south']) await reads.getByRole('row', { name: new RegExp(region) }).waitFor();
    expect(await reads.locator('.badge').count()).toBeGreaterThanOrEqual(3);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('runs the TTL stale read and CDC invalidation demos in one click each', async () => {
    const { page, errors } = await open('/content');
    await page.getByRole('form', { name: /^Edit / }).waitFor();
    const result = page.locator('.demo-result');

    await page.getByRole('button', { name: 'TTL stale read' }).click();
    await result.getByText(/Every region still served an old version/).waitFor({ timeout: 15_000 });

    await page.getByRole('button', { name: 'CDC invalidation' }).click();
    await result.getByText(/Every region served version \d+ in delay order/).waitFor({ timeout: 15_000 });
    expect(errors).toEqual([]);
    await page.close();
  });
});
