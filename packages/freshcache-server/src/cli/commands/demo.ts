import { parseArgs } from 'node:util';
import { startWorkload } from '../../demo/workload.js';
import { untilSignal } from '../until-signal.js';
import { startTopology } from './serve.js';

export const demoHelp = `freshcache demo [--port N] [--host H] [--workload] [--rate N]

Runs the whole system in one process on embedded parts: origin (PGlite), relay, the regions
us-east (100 ms), eu-west (300 ms), ap-south (600 ms) and the HTTP API.

  --port N      port to listen on (default: PORT or 3000; 0 picks a free one)
  --host H      address to bind (default 127.0.0.1)
  --workload    drive Zipf-distributed reads and writes so the metrics move
  --rate N      workload operations per second (default 200)`;

export async function demo(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      workload: { type: 'boolean', default: false },
      rate: { type: 'string', default: '200' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(demoHelp);
    return;
  }
  const port = Number(values.port ?? process.env.PORT ?? 3000);
  const rate = Number(values.rate);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port}`);
  if (!Number.isFinite(rate) || rate <= 0) throw new Error(`--rate must be a positive number, got ${values.rate}`);

  console.log('Starting freshcache: origin (PGlite), relay, regions…');
  // No capture rules of its own: the content demo app runs (config.demo).
  const { topology, app, apps } = await startTopology({ port, host: values.host ?? '127.0.0.1' });
  await app.listen({ port, host: topology.config.host });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const base = `http://${topology.config.host}:${actualPort}`;
  const regions = [...topology.regions.values()];

  console.log(`
freshcache is running at ${base}
  dashboard    ${base}/
  API docs     ${base}/docs
  metrics      ${base}/metrics   (JSON with percentiles: ${base}/api/metrics)
  live events  ${base}/api/events
  regions      ${regions.map((r) => `${r.name} (${r.config.delayMs} ms)`).join(', ')}

Try it (curl 7.84 or newer):
1. Read article 1 through every region twice — MISS, then HIT:
  for r in ${regions.map((r) => r.name).join(' ')}; do for i in 1 2; do curl -s -o /dev/null -w "$r %header{x-cache} v%header{x-cache-version}\\n" ${base}/edge/$r/content/1; done; done
2. Change it at the origin, then watch each region turn fresh after its delay:
  curl -s -o /dev/null -X PUT ${base}/api/content/1 -H 'content-type: application/json' -d '{"title":"Edited"}'; s=$(date +%s%3N); for t in 1 2 3 4 5 6 7; do sleep 0.1; echo "+$(( $(date +%s%3N) - s )) ms:" $(for r in ${regions.map((r) => r.name).join(' ')}; do curl -s -o /dev/null -w "$r=%header{x-cache}/v%header{x-cache-version} " ${base}/edge/$r/content/1; done); done
3. Purge a tag, and see when each region applied it:
  id=$(curl -s -X POST ${base}/api/invalidate -H 'content-type: application/json' -d '{"tags":["news"]}' | grep -o '"id":[0-9]*' | cut -d: -f2); sleep 1; curl -s ${base}/api/invalidations/$id; echo

Ctrl-C stops.`);

  const { items } = await apps[0]!.store.list({ limit: 500 });
  const workload = values.workload
    ? startWorkload({
        baseUrl: base,
        regions: regions.map((r) => r.name),
        ids: items.map((i) => i.id),
        tags: [...new Set(items.flatMap((i) => i.tags))],
        rate,
        writeRatio: 0.02,
        clock: topology.clock,
        onError: (error) => topology.logger.warn({ err: error }, 'workload request failed'),
      })
    : undefined;
  if (workload) console.log(`\nWorkload: ${rate} ops/s, Zipf over ${items.length} articles, 2% writes.`);

  await untilSignal();
  console.log('\nStopping…');
  workload?.stop();
  await app.close();
  await topology.close();
  console.log('Stopped.');
}
