import type { Progress } from './lib/progress.js';
import type { Row } from './lib/row.js';

export interface Scenario {
  /** Matched by the filter of `npm run bench -- <filter>`. */
  name: string;
  title: string;
  /** What the scenario measures and how, for the README. */
  measures: string;
  /** Extra node flags for the child process that runs it. */
  nodeFlags: string[];
  /** Imported lazily, so the runner loads no library it is not about to measure. */
  run: (progress: Progress) => Promise<Row[]>;
}

export const scenarios: Scenario[] = [
  {
    name: 'l1-get-hit',
    title: 'L1 get hit through the public API',
    measures: [
      '`createCache()` from `src/index.ts` holds N = 10,000 keys (small objects), filled with `set()`; each peer holds the same keys and values.',
      'Each subject reads every key in turn with `await cache.get(key)` (lru-cache: a plain sync `get`; also shown awaited, to separate the cost of `await` from the cost of the cache).',
      'Each subject lives in a worker thread of its own (its own V8 isolate): freshcache, bentocache and the lru-cache peer all run lru-cache\'s `get`, and in one isolate the JIT feedback one leaves there would slow the others. Only one worker runs at a time.',
      'After a 300 ms warm-up per subject, 8 rounds of 200 ms each, subjects taking turns round by round; the table shows the median ops/s over the rounds and the spread.',
      'Every read is checked to be a hit. `getOrLoad` uses one shared loader that throws if called.',
      'Peers: lru-cache 11, bentocache (memory L1 driver, with its default `serialize: true` and with `serialize: false`), cache-manager 7 with its default Keyv in-memory store.',
    ].join('\n'),
    nodeFlags: ['--expose-gc'],
    run: (progress) => import('./l1/get-hit.bench.js').then((m) => m.getHit(progress)),
  },
  {
    name: 'http-edge-get-hit',
    title: 'Edge GET HIT over HTTP',
    measures: [
      'A real topology (`Topology.create({ config: { seed: true, port: 0 } })`, embedded PGlite origin, 3 regions) served by `buildApp()` on 127.0.0.1, with a silent pino logger (log level `silent`).',
      '`/edge/us-east/content/1` is read twice before the run, so every measured request is an L1 HIT (checked through the region\'s hit and miss counters).',
      'Next to it, a bare Fastify 5 server (no logger, no hooks, no schema) with the same route path returns the same JSON object, fetched once from the edge route.',
      'autocannon 9 runs in its own process (so it does not share the server\'s event loop): 50 connections, a 1 s warm-up of each server, then 3 rounds of 3 s taken in turn (edge, bare, edge, bare, …) so drifting machine load falls on both; the table shows each server\'s median round.',
      'The freshcache server runs at log level `silent` here; at the default `info` level the per-request access log is off too (it is written at `debug` only).',
    ].join('\n'),
    nodeFlags: [],
    run: (progress) => import('./http/edge-get-hit.bench.js').then((m) => m.edgeGetHit(progress)),
  },
  {
    name: 'purge-tag-1m',
    title: 'Tag purge of 1 M cached keys',
    measures: [
      '`createCache({ l1: { maxEntries: 1,100,000, maxBytes: 2 GiB } })` is filled with 1,000,000 keys by `set()`, each tagged `t:<i % 10>` and `all`.',
      'Timed with `performance.now()`: `cache.invalidate({ tags: [\'all\'] })`, then the first `get()` after it (one read), then 1,000 more reads of other keys.',
      'Heap used is read (after a forced GC) before the fill, after it, and after the purge and the reads. Runs in its own node with `--max-old-space-size=4096`.',
    ].join('\n'),
    nodeFlags: ['--max-old-space-size=4096', '--expose-gc'],
    run: (progress) => import('./purge/tag-purge.bench.js').then((m) => m.tagPurge(progress)),
  },
];
