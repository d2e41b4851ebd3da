import { readFile } from 'node:fs/promises';
import { inject, onTestFinished } from 'vitest';
import { createPgliteClient } from '../../packages/freshcache-server/src/adapters/postgres/pglite-client.js';
import type { ConfigInput } from '../../packages/freshcache-server/src/config.js';
import { resolveConfig } from '../../packages/freshcache-server/src/config.js';
import { DemoApp } from '../../packages/freshcache-server/src/demo/demo-app.js';
import type { Clock } from '../../packages/freshcache/src/engine/clock.js';
import type { Logger } from '../../packages/freshcache-server/src/observability/logger.js';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import { Topology } from '../../packages/freshcache-server/src/topology/topology.js';

/** A PGlite origin started from the run's snapshot; closed when the test ends. */
export async function testSqlClient() {
  const dump = await readFile(inject('pgliteSnapshot'));
  const client = await createPgliteClient({ loadDataDir: new Blob([dump]) });
  onTestFinished(() => client.close());
  return client;
}

/**
 * A whole embedded topology on a PGlite origin started from the run's snapshot. Jitter is off
 * unless asked for, so a region's delay is exact and a test can step the fake clock to just
 * before and after it. It runs the content demo app as the CLI does: when the configuration's
 * `demo` is on (by default, when it has no capture rules); demoOf() finds it. The caller closes
 * it (see testTopology for the per-test version).
 */
export async function openTopology(options: { config?: ConfigInput; clock?: Clock; logger?: Logger } = {}): Promise<Topology> {
  const dump = await readFile(inject('pgliteSnapshot'));
  const sql = await createPgliteClient({ loadDataDir: new Blob([dump]) });
  const config: ConfigInput = {
    seed: false,
    ...options.config,
    regions: (options.config?.regions ?? [
      { name: 'us-east', delayMs: 100 },
      { name: 'eu-west', delayMs: 300 },
      { name: 'ap-south', delayMs: 600 },
    ]).map((r) => ({ jitter: 0, ...r })),
  };
  const apps = resolveConfig(config).demo ? [new DemoApp()] : [];
  return Topology.create({ config, clock: options.clock, logger: options.logger, sql, apps });
}

/** The HTTP halves of the apps a topology runs, for buildApp: the demo's, when it runs it. */
export function serverAppsOf(topology: Topology): DemoApp[] {
  return topology.apps.filter((app) => app instanceof DemoApp);
}

/** The demo app a test topology runs (see openTopology). */
export function demoOf(topology: Topology): DemoApp {
  const demo = topology.apps.find((app) => app instanceof DemoApp);
  if (!demo) throw new Error('this topology runs no demo app (its configuration has capture rules, or demo: false)');
  return demo;
}

/** openTopology(), closed when the test ends. */
export async function testTopology(options: { config?: ConfigInput; clock?: Clock } = {}): Promise<Topology> {
  const topology = await openTopology(options);
  onTestFinished(() => topology.close());
  return topology;
}

export async function testApp(options: Parameters<typeof testTopology>[0] = {}) {
  const topology = await testTopology(options);
  const app = await buildApp({ topology, apps: serverAppsOf(topology) });
  onTestFinished(() => app.close());
  return { app, topology };
}
