/**
 * The freshcache edge for the HTTP benchmark, in a process of its own: a real topology (embedded
 * PGlite origin, 3 regions) served by buildApp(), with a silent logger. It warms the benchmarked
 * path into us-east's L1 and tells the parent its port and the response body.
 */
import { startTopology } from '../../../packages/freshcache-server/src/cli/commands/serve.js';
import { createLogger } from '../../../packages/freshcache-server/src/observability/logger.js';
import { answerParent, send } from './bench-child.js';

const PATH = process.argv[2] ?? '/edge/us-east/content/1';

// As the CLI starts it: with the demo app, whose edge route and sample content are benchmarked.
const { topology, app } = await startTopology({ seed: true, port: 0 }, { logger: createLogger({ level: 'silent' }) });
const base = await app.listen({ host: '127.0.0.1', port: 0 });
// Twice: the first read loads from the origin (MISS), the second must be an L1 HIT.
await (await fetch(base + PATH)).arrayBuffer();
const warm = await fetch(base + PATH);
if (warm.headers.get('x-cache') !== 'HIT') throw new Error(`${PATH} is not a HIT after warming: x-cache=${warm.headers.get('x-cache')}`);
const body = await warm.text();
const region = topology.region('us-east');
answerParent({
  stats: () => ({ ...region.stats }),
  close: async () => {
    await app.close();
    await topology.close();
  },
});
send({ type: 'listening', port: Number(new URL(base).port), body });
