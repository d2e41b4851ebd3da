import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`; scripts/ensure-test-deps.sh installs it). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Headless Chromium driven by playwright-core: never `npx playwright install`, which downloads a
 * browser. Flags measured on this machine (../shared/MACHINE-NOTES.md): no sandbox as root, no
 * GPU, nothing that phones home. Its temporary files go in a folder of its own, removed on close.
 */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const scratch = await mkdtemp(join(tmpdir(), 'freshcache-chromium-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    env: { ...process.env, TMPDIR: scratch },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  return {
    browser,
    async close() {
      await browser.close();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/**
 * Everything a page logged as an error, or threw: a browser test asserts there is none. Failed
 * requests the page did not handle show up as console errors too.
 */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  return errors;
}
