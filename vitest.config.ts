import react from '@vitejs/plugin-react';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `import 'freshcache'` (and its subpaths) runs the library's sources, the files its package.json
// names under the "freshcache-source" condition: tests need no build. An alias, not resolve.conditions,
// because vitest's global setup imports bare workspace packages through Node, which ignores Vite's conditions.
const library = new URL('./packages/freshcache/', import.meta.url);
const { exports: entries } = JSON.parse(readFileSync(new URL('package.json', library), 'utf8')) as { exports: Record<string, Record<string, string>> };
const librarySources = Object.entries(entries).map(([subpath, target]) => ({
  find: new RegExp(`^freshcache${subpath.slice(1).replace(/\//g, '\\/')}$`),
  replacement: fileURLToPath(new URL(target['freshcache-source']!, library)),
}));

export default defineConfig({
  resolve: { alias: librarySources },
  test: {
    globalSetup: ['test/testkit/global-setup.ts'],
    // Each file's duration at the end of the run: npm test has a 15 minute budget.
    reporters: ['default', './test/testkit/durations-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          // Type-level tests (*.test-d.ts): checked by tsc, they fail the run on a type error.
          typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
          exclude: ['test/integration/**'],
          // Two cores: PGlite instances are CPU-heavy, so more workers only add contention.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        // The dashboard's component tests: React in jsdom, no server (the browser tests in
        // test/integration/dashboard.browser.test.ts run the built dashboard on a real server).
        plugins: [react()],
        test: {
          name: 'dashboard',
          root: 'dashboard',
          include: ['test/**/*.test.{ts,tsx}'],
          environment: 'jsdom',
          testTimeout: 15_000,
          // Runs alongside the unit project (same group), so it shares its worker limit.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Multi-process deployments check staleness bounds under load (delay + 500 ms in the
          // fault test): they run one at a time, after the rest, with the machine to themselves.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
