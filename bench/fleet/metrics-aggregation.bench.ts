import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { VERSION } from '../../packages/freshcache/src/index.js';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import { DemoApp } from '../../packages/freshcache-server/src/demo/demo-app.js';
import { createTopology } from '../../packages/freshcache-server/src/topology/topology.js';
import { formatCount, formatMs, verdict } from '../lib/format.js';
import type { Progress } from '../lib/progress.js';
import type { Row } from '../lib/row.js';

const NODES = 12;
const WARMUP = 50;
const REQUESTS = 500;
const TARGET_P99_MS = 50;
const REGIONS = ['us-east', 'eu-west', 'ap-south'];

/**
 * The control process's `GET /api/metrics` over a fleet of 12 nodes: it asks each node the
 * registry lists for `/api/metrics/node` and merges what they send. Each node here is a bare HTTP
 * server answering a real node's figures (an embedded topology's `nodeSnapshot()` after 2,048
 * reads and invalidations per region, so every sketch is full), so the table times the control's
 * work: the registry, twelve requests in parallel, and the merge.
 */
export async function metricsAggregation(progress: Progress): Promise<Row[]> {
  progress.update(0, 'starting the control process (embedded)');
  // Embedded, with the demo app only so that it has capture rules; nothing is seeded.
  const topology = await createTopology({ config: { seed: false }, apps: [new DemoApp()] });
  const app = await buildApp({ topology });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const control = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  try {
    // A real node's figures: every window full.
    for (const region of REGIONS) {
      for (let i = 0; i < 2_048; i++) {
        topology.metrics.observeEdgeRequest(region, 'edge', 'HIT', 0.0002 + (i % 97) * 0.00001);
        topology.metrics.observeInvalidationLag(region, 0.1 + (i % 89) * 0.001);
      }
    }
    const body = JSON.stringify(await topology.metrics.nodeSnapshot());
    const nodes = await Promise.all(
      Array.from({ length: NODES }, async () => {
        const server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body));
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        return server;
      }),
    );
    try {
      const registry = topology.presence.registry;
      await Promise.all(
        nodes.map((server, i) =>
          registry.heartbeat({
            id: `bench-node-${i}`,
            roles: ['edge'],
            regions: [REGIONS[i % REGIONS.length]!],
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            drainable: true,
            version: VERSION,
            startedAt: Date.now(),
            status: { health: 'ok', l1: { entries: 0, bytes: 0 }, hitRatio: null, lagP99Ms: null, breaker: null, cursor: 0, regions: {} },
          }),
        ),
      );
      const timings: number[] = [];
      for (let i = 0; i < WARMUP + REQUESTS; i++) {
        const started = performance.now();
        const response = await fetch(`${control}/api/metrics`);
        const answer = (await response.json()) as { nodes?: { reporting: string[] } };
        if (i >= WARMUP) timings.push(performance.now() - started);
        // The 12 nodes, and the control's own regions (embedded, it serves them too).
        if (answer.nodes?.reporting.length !== NODES + 1) throw new Error(`the control merged ${answer.nodes?.reporting.length ?? 0} nodes, not ${NODES + 1}`);
        if (i % 50 === 0) progress.update(0.1 + 0.9 * (i / (WARMUP + REQUESTS)), `GET /api/metrics ${i} of ${WARMUP + REQUESTS}`);
      }
      timings.sort((a, b) => a - b);
      const at = (q: number) => timings[Math.min(timings.length - 1, Math.ceil(q * timings.length) - 1)]!;
      return [
        {
          request: `GET /api/metrics on the control, ${NODES} nodes`,
          requests: formatCount(REQUESTS),
          'node answer': `${formatCount(body.length)} bytes`,
          p50: formatMs(at(0.5)),
          p99: formatMs(at(0.99)),
          max: formatMs(timings.at(-1)!),
          target: `p99 ≤ ${TARGET_P99_MS} ms`,
          met: verdict(at(0.99) <= TARGET_P99_MS),
        },
      ];
    } finally {
      await Promise.all(nodes.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  } finally {
    await app.close();
    await topology.close();
  }
}
