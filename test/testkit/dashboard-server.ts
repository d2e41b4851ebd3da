import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/app.js';
import { DEFAULT_DASHBOARD_DIR } from '../../src/server/dashboard.js';
import { existsSync } from 'node:fs';
import { createTopology } from '../../src/topology/topology.js';
import type { Topology } from '../../src/topology/topology.js';

/**
 * The demo as `npm start` runs it (embedded parts, the three demo regions with their delays and
 * jitter, sample content, the real clock) on a free loopback port, serving the built dashboard.
 * The dashboard must be built first (`npm run build -w dashboard`; `pretest` does it).
 */
export async function startDashboardServer(): Promise<{ url: string; topology: Topology; app: FastifyInstance; close(): Promise<void> }> {
  if (!existsSync(`${DEFAULT_DASHBOARD_DIR}/index.html`)) {
    throw new Error(`the dashboard is not built (${DEFAULT_DASHBOARD_DIR}index.html is missing): run npm run build -w dashboard`);
  }
  const topology = await createTopology({ config: { port: 0, host: '127.0.0.1' } });
  const app = await buildApp({ topology });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the server has no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    topology,
    app,
    async close() {
      await app.close();
      await topology.close();
    },
  };
}
