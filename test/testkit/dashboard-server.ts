import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { startTopology } from '../../packages/freshcache-server/src/cli/commands/serve.js';
import type { DemoApp } from '../../packages/freshcache-server/src/demo/demo-app.js';
import { DEFAULT_DASHBOARD_DIR } from '../../packages/freshcache-server/src/server/dashboard.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';

/**
 * The demo as `npm start` runs it (embedded parts, the three demo regions with their delays and
 * jitter, sample content, the real clock) on a free loopback port, serving the built dashboard.
 * The dashboard must be built first (`npm run build -w dashboard`; `pretest` does it).
 */
export async function startDashboardServer(): Promise<{ url: string; topology: Topology; app: FastifyInstance; demo: DemoApp; close(): Promise<void> }> {
  if (!existsSync(`${DEFAULT_DASHBOARD_DIR}/index.html`)) {
    throw new Error(`the dashboard is not built (${DEFAULT_DASHBOARD_DIR}index.html is missing): run npm run build -w dashboard`);
  }
  // As `freshcache demo` starts it: the demo app runs, its configuration having no capture rules.
  const { topology, app, apps } = await startTopology({ port: 0, host: '127.0.0.1' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the server has no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    topology,
    app,
    demo: apps[0]!,
    async close() {
      await app.close();
      await topology.close();
    },
  };
}
