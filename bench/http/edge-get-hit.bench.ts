import Fastify from 'fastify';
import type { Result } from 'autocannon';
import { createLogger } from '../../src/observability/logger.js';
import { buildApp } from '../../src/server/app.js';
import { Topology } from '../../src/topology/topology.js';
import { autocannonRun } from '../lib/autocannon-run.js';
import { formatCount, formatRatio, verdict } from '../lib/format.js';
import type { Progress } from '../lib/progress.js';
import type { Row } from '../lib/row.js';

const PATH = '/edge/us-east/content/1';
const CONNECTIONS = 50;
const WARMUP_SEC = 1;
const MEASURE_SEC = 3;
/** Rounds taken in turn (edge, bare, edge, bare, …): on a shared 2-core machine the load drifts, and alternating spreads the drift over both. */
const ROUNDS = 3;
const TARGET_RATIO = 0.85;
const LOG_LEVEL = 'silent';

/**
 * Edge GET HIT over HTTP: the full freshcache server (topology + Fastify app) against a bare
 * Fastify server returning the same JSON, under the same autocannon load, in alternating rounds;
 * each server's round with the median req/s is reported.
 */
export async function edgeGetHit(progress: Progress): Promise<Row[]> {
  progress.update(0, 'starting the topology (embedded PGlite)');
  // Silent logs: the scenario measures the cache and the HTTP stack, not pino writing to stdout.
  const topology = await Topology.create({ config: { seed: true, port: 0 }, logger: createLogger({ level: LOG_LEVEL }) });
  const edge = await buildApp({ topology });
  const bare = Fastify({ logger: false });
  try {
    const edgeBase = await edge.listen({ host: '127.0.0.1', port: 0 });
    // Twice: the first read loads from the origin (MISS), the second must be an L1 HIT.
    await fetch(edgeBase + PATH);
    const warm = await fetch(edgeBase + PATH);
    if (warm.headers.get('x-cache') !== 'HIT') throw new Error(`${PATH} is not a HIT after warming: x-cache=${warm.headers.get('x-cache')}`);
    const body = (await warm.json()) as object;
    // Same route shape and the same object, so both servers do the same routing and serialisation.
    bare.get('/edge/:region/content/:id', async () => body);
    // The same bytes on the wire: loopback and the client's parsing cost per byte, so this row
    // separates what freshcache's headers cost from what its cache path costs.
    const sameHeaders = ['x-request-id', 'x-cache', 'x-cache-region', 'x-cache-version', 'age']
      .map((name) => [name, warm.headers.get(name)] as const)
      .filter((header): header is readonly [string, string] => header[1] !== null);
    bare.get('/with-headers/:region/content/:id', async (_request, reply) => {
      for (const [name, value] of sameHeaders) reply.header(name, value);
      return body;
    });
    const bareBase = await bare.listen({ host: '127.0.0.1', port: 0 });
    const BARE_HEADERS_PATH = PATH.replace('/edge/', '/with-headers/');

    const region = topology.region('us-east');
    const steps = 3 + 3 * ROUNDS;
    let step = 0;
    const load = async (label: string, url: string, durationSec: number): Promise<Result> => {
      const at = step++;
      return autocannonRun({
        url,
        connections: CONNECTIONS,
        durationSec,
        onTick: (fraction) => progress.update((at + Math.min(1, fraction)) / steps, label),
      });
    };
    await load('warm-up freshcache edge', edgeBase + PATH, WARMUP_SEC);
    await load('warm-up bare Fastify', bareBase + PATH, WARMUP_SEC);
    await load('warm-up bare Fastify with headers', bareBase + BARE_HEADERS_PATH, WARMUP_SEC);
    const before = { ...region.stats };
    const edgeRounds: Result[] = [];
    const bareRounds: Result[] = [];
    const bareHeaderRounds: Result[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      edgeRounds.push(await load(`freshcache edge, round ${round}/${ROUNDS}`, edgeBase + PATH, MEASURE_SEC));
      bareRounds.push(await load(`bare Fastify, round ${round}/${ROUNDS}`, bareBase + PATH, MEASURE_SEC));
      bareHeaderRounds.push(await load(`bare Fastify with headers, round ${round}/${ROUNDS}`, bareBase + BARE_HEADERS_PATH, MEASURE_SEC));
    }
    const hits = region.stats.l1Hits - before.l1Hits;
    const reads = hits + (region.stats.l2Hits - before.l2Hits) + (region.stats.misses - before.misses) + (region.stats.staleServed - before.staleServed);
    const medianRound = (rounds: Result[]) => [...rounds].sort((a, b) => a.requests.average - b.requests.average)[Math.floor(rounds.length / 2)]!;
    const edgeResult = medianRound(edgeRounds);
    const bareResult = medianRound(bareRounds);
    const bareHeaderResult = medianRound(bareHeaderRounds);
    const headerRatio = edgeResult.requests.average / bareHeaderResult.requests.average;

    const ratio = edgeResult.requests.average / bareResult.requests.average;
    const row = (server: string, result: Result): Row => ({
      server,
      'req/s (mean)': formatCount(result.requests.average),
      // autocannon reports percentiles in whole ms; the mean keeps the fraction.
      'mean latency': `${result.latency.average.toFixed(2)} ms`,
      'p50 latency': `${result.latency.p50} ms`,
      'p99 latency': `${result.latency.p99} ms`,
      'requests (median round)': formatCount(result.requests.total),
      'errors / non-2xx': `${result.errors} / ${result.non2xx}`,
      'L1 hits (all rounds)': '—',
      'edge / bare': '—',
      target: '—',
      met: '',
    });
    return [
      {
        ...row(`freshcache edge GET ${PATH}`, edgeResult),
        'L1 hits (all rounds)': `${formatCount(hits)} of ${formatCount(reads)} reads`,
        'edge / bare': formatRatio(ratio),
        target: `≥ ${formatRatio(TARGET_RATIO)} of bare`,
        met: verdict(ratio >= TARGET_RATIO),
      },
      row('bare Fastify 5, same JSON', bareResult),
      {
        ...row('bare Fastify 5, same JSON and the same response headers', bareHeaderResult),
        'edge / bare': `edge is ${formatRatio(headerRatio)} of this`,
      },
    ];
  } finally {
    await bare.close();
    await edge.close();
    await topology.close();
  }
}
