import type { Progress } from './lib/progress.js';
import type { Row, ScenarioOutput } from './lib/row.js';

export interface Scenario {
  /** Matched by the filter of `npm run bench -- <filter>`. */
  name: string;
  title: string;
  /** What the scenario measures and how, for the README. */
  measures: string;
  /**
   * What the latest numbers mean, written by hand after a run (a missed target and why). Markdown,
   * shown under the table; it names the run it was written for, since the table changes with every run.
   */
  notes?: string;
  /** Extra node flags for the child process that runs it. */
  nodeFlags: string[];
  /** Imported lazily, so the runner loads no library it is not about to measure. */
  run: (progress: Progress) => Promise<Row[] | ScenarioOutput>;
}

export const scenarios: Scenario[] = [
  {
    name: 'l1-get-hit',
    title: 'L1 get hit through the public API',
    measures: [
      '`createCache()` from `packages/freshcache/src/index.ts` holds N = 10,000 keys (small objects), filled with `set()`; each peer holds the same keys and values.',
      'Each subject reads every key in turn with `await cache.get(key)` (lru-cache: a plain sync `get`; also shown awaited, to separate the cost of `await` from the cost of the cache).',
      'Each subject lives in a worker thread of its own (its own V8 isolate): freshcache, bentocache and the lru-cache peer all run lru-cache\'s `get`, and in one isolate the JIT feedback one leaves there would slow the others. Only one worker runs at a time.',
      'After a 300 ms warm-up per subject, 8 rounds of 200 ms each, subjects taking turns round by round; the table shows the median ops/s over the rounds and the spread.',
      'Every read is checked to be a hit. `getOrLoad` uses one shared loader that throws if called.',
      'Peers: lru-cache 11, bentocache (memory L1 driver, with its default `serialize: true` and with `serialize: false`), cache-manager 7 with its default Keyv in-memory store.',
      '`freshcache get, subscribed to a Redis log` is the same cache as a service joins a deployment with it: `createCache({ invalidations: { log: redisStreamLog({ url }), region } })` on a redis-server of the run\'s own (`startRedis()`), filled once it follows the log (`onReady`). Its reader blocks on a connection of its own; no event is published during the rounds, so the row shows what following a log costs a read, not what applying events costs.',
    ].join('\n'),
    notes: [
      'Written for the run of 2026-12-01T07:35Z above (load average 1.3, the machine otherwise quiet).',
      '',
      '- **Target met, with and without a log:** `freshcache get` 5.98 M ops/s, and 5.96 M for the same cache subscribed to a Redis log, in the same interleaved rounds (2026-12-01T10:19Z): the same within noise. Following the log adds nothing to a hit: the reader blocks on a connection of its own, and a read looks only at L1 and the marks. The run at 07:26Z, at load 6.8, gave 4.53 M and 5.18 M: read the load average before the numbers.',
    ].join('\n'),
    nodeFlags: ['--expose-gc'],
    run: (progress) => import('./l1/get-hit.bench.js').then((m) => m.getHit(progress)),
  },
  {
    name: 'http-edge-get-hit',
    title: 'Edge GET HIT over HTTP',
    measures: [
      'Four servers, each in a process of its own, answer `GET /edge/us-east/content/1` with the same JSON body: the freshcache edge (a real topology, `startTopology({ seed: true, port: 0 })`, as the CLI starts it: the demo app with its embedded PGlite origin and 3 regions, served by `buildApp()` with a silent logger; the path is read twice first, so every measured request is an L1 HIT, checked through the region\'s counters); a bare Fastify 5 server (no logger, no hooks, no schema) with the same route, returning the same object; a raw `node:http` server writing the same body string with its length (the floor for a Node server); and Varnish 7 (`varnishd -F`, a VCL that caches every 200 for an hour, `-s malloc`) in front of the edge route, every request a Varnish hit (checked with `varnishstat`: no backend request during the rounds).',
      'The load generator is wrk (C; one thread, 50 keep-alive connections; its report read from a Lua `done` hook, `bench/http/wrk-report.lua`). On this 2-core machine each side gets a core of its own with `taskset`: every server on CPU 0 (Varnish too, so it gets the same one core as a Node process), wrk on CPU 1. The `wrk CPU` column is wrk\'s own CPU time over the round: well under 100 % of its core means the client was not the limit; `server CPU (cores busy)` near 1.00 means the server was.',
      'A 2 s warm-up of each server, then 5 rounds of 5 s taken in turn (edge, Fastify, node:http, Varnish, edge, …), so drifting machine load falls on all of them. req/s is the median round; the ratios are the medians of the per-round ratios (each round\'s servers ran seconds apart). `server CPU per request` is the server process tree\'s user + system CPU (from /proc) over the round divided by its requests: it moves less than req/s when other work shares the machine.',
      'After the measured rounds, each Node server is profiled over one more 5 s wrk window: the parent asks the server process over IPC to start and stop the inspector\'s CPU profiler (`Profiler.start`/`stop`, 100 µs sampling) around the load, so the profile holds the load window only. Self time is grouped by whose code ran, and the edge\'s top functions are listed (lines from the TypeScript source maps). V8 samples wall time on the server\'s thread, so on a busy machine a preempted server\'s waiting lands on whatever it was running: read the profile of a run whose servers were at 1.00 core. The whole profiles are kept in `bench/.results/http-*.cpuprofile` (open them in Chrome DevTools).',
      '`bench/ensure-bench-deps.sh` (run by `npm run bench`) installs wrk and varnish with apt when they are missing (as root), or names them.',
    ].join('\n'),
    notes: [
      'Written for the run of 2026-12-01T04:13Z above (load average 1.86 when it started; the rise during the run is the benchmark\'s own servers, wrk and Varnish), the first after the workspace split (the edge runs `freshcache-server` on the library package) and after the demo became an app that declares its edge route (`edgeRoute`, `packages/freshcache-server/src/server/edge-route.ts`).',
      '',
      '- **Target met:** the edge HIT served 106.8 % of bare Fastify\'s req/s and 90.1 % of raw `node:http`\'s in the same interleaved run. Every server was at 0.99 of its core while wrk used 59–67 % of its own, so the servers were the limit, not the client. In CPU per request: node:http 15.3 µs, the edge 17.8 µs, Fastify 19.0 µs, Varnish 19.8 µs. The run before the split (02:26Z) gave 106.2 % and 86.1 % with the edge at 16.8 µs; the first run with declared routes (01:35Z) 112.0 % and 88.0 %.',
      '- **Where a hit\'s time goes** (the profile tables): about half of the busy samples are the `writev` system call that sends the response (on loopback it also carries the client\'s receive), and most of the rest is node\'s own HTTP machinery (the parser\'s callbacks, streams, building and validating the head), the same in all three Node servers. freshcache\'s own code (the hit path, the route match, the L1 read, the metrics) is 5 % (4.3 % before declared routes; the declared route\'s `match`, its regular expression and key rendering, is 1.3 %); Fastify\'s routing and reply pipeline are about 9 % of its server\'s.',
      '- **What was changed after profiling** (`packages/freshcache-server/src/server/edge-hit-path.ts`, `packages/freshcache-server/src/observability/bucket-histogram.ts`), each measured in interleaved wrk runs of the code before and after it (throwaway A/B scripts, not in this suite): the edge\'s request-duration histogram was prom-client\'s labelled `Histogram.observe`, which validates and hashes the labels and allocates on every call. Removing the observation altogether made the edge 15 % faster (63.6 k vs 54.0 k req/s), far more than the 3 % self time the profile gave prom-client (its allocations show up as GC, its cost spreads over many small frames). It is now a `BucketHistogram` whose series the hit path resolves once, exposed exactly as before: +4.5 %. Before that, handing `writeHead` one flat header array instead of an object built by spreading, and keeping the body\'s length with its serialised body: +5 %. In quiet interleaved runs the edge was at 95 % of Fastify before both changes and at 98–99 % between them.',
      '- **Varnish** answers from one core here, like the Node servers: it runs a thread per connection, and 50 threads taking turns on one core cost it 18–22 µs per request (17.9 µs in this run, level with Fastify; the slowest of the four in an earlier one). Unpinned (Varnish and wrk free to use both cores) it served 42–50 k req/s even with other work on the machine, using about one core between its threads; that is how the issue that asked for this table saw Varnish level with `node:http`.',
      '- **On a busy machine the req/s columns do not compare servers.** A pinned server cannot leave CPU 0 when other work lands there: with load averages of 7–20 from other processes, the servers got 0.2–0.4 of a core and the edge\'s ratios ranged from 80 % to 100 % of Fastify, while CPU per request moved about ±10 %. Read a table whose `server CPU (cores busy)` is about 1.00 in every row, and a profile from the same run.',
      '- The autocannon version of this benchmark (before this one) reported the edge at 96–104 % of bare Fastify because autocannon, a Node process on the same two cores, saturated before either server.',
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
  {
    name: 'l2-redis-get-hit',
    title: 'L2 get hit on Redis: engine vs raw ioredis',
    measures: [
      'A redis-server of its own (`startRedis()`, a free port, no persistence) and one ioredis connection from `createRedisConnection({ url })`, as a node makes it (auto-pipelining on, as standalone connections now have it, for every subject).',
      '`TieredCache` with a `RedisStore` L2 holds N = 10,000 keys (small objects), filled with `set()`; Redis holds exactly those 10,000 keys.',
      'Every engine read must reach L2, so the engine gets an L1 of one entry (`MemoryStore({ maxEntries: 1 })`): each `get` misses L1, reads Redis, parses and checks the entry, and promotes it into L1, evicting the previous one. That promotion is what an L2 hit costs in a node whose L1 is full; nothing outside the engine touches L1. The stats are checked after the run: every engine read was an L2 hit (no L1 hit, no miss, no STALE).',
      'Rows form a ladder, each adding one layer to the row before, so the differences say what each layer costs: raw `redis.get(key)` of the same Redis keys (`slotKey(prefix, key)`) on the same connection (the baseline of the target); the same plus `JSON.parse` of the reply; `RedisStore.get` alone (key, parse, expiry check); the engine over the `RedisStore`; the engine over `BreakerStore(RedisStore)` whose `CircuitBreaker` has no call timeout (`callTimeoutMs: Infinity`, which arms no timer per call: not a deployed setting, it isolates the timer); and the engine over `BreakerStore(RedisStore)` with a default `CircuitBreaker` (500 ms call timeout), which is how a deployment runs it (`packages/freshcache-server/src/topology/build-parts.ts`). No breaker may change state during the run.',
      'CPU per read: this process\'s `process.cpuUsage()` (user + system) and redis-server\'s `INFO cpu`, over the warm-up and all rounds, divided by the reads.',
      'Each subject keeps 50 reads in flight (each lane starts its next read when its last one settled), reading the keys in turn. After a 1 s warm-up per subject, 8 rounds of 1 s, subjects taking turns round by round; the table shows the median ops/s over the rounds. Mean latency is 50 ÷ ops/s (Little\'s law). redis-server runs on the same machine and shares its cores.',
    ].join('\n'),
    notes: [
      '**Target not met against raw GET; at it against raw GET + `JSON.parse`.** In the run above (2026-12-01T10:17Z) the engine reads L2 hits at 62.4 % of raw GET, and at 62.5 % as deployed behind `BreakerStore`; the target is 80 %. Against raw GET + `JSON.parse` (the least any reader of a JSON value must do) they are at 79.8 % and 80.0 %. The connections now pipeline the commands of one tick (ioredis `enableAutoPipelining`, for the consumer groups\' batches of deletes): every row got faster (the engine as deployed 86 k → 109 k reads/s, 12.1 → 9.8 µs of CPU per read), and raw GET most (121 k → 174 k), because with 50 reads in flight its system CPU per read fell from 5.5 to 1.2 µs, so the ratio fell though nothing in the engine got slower. Earlier runs without auto-pipelining gave 70.9–76.1 % and 64.1–71.0 % of raw GET: the spread between runs is as large as some differences between rows, so read the ladder, not a single row. What the ladder and the CPU columns show:',
      '',
      '- A raw GET costs this process about 6 µs of CPU per read, now mostly in user space (before auto-pipelining, 8.5 µs, more than half in the kernel: one write to the loopback socket per command). 80 % of raw leaves about 1.5 µs per read for everything freshcache does on top.',
      '- Parsing the stored entry spends most of that before the engine runs: raw GET + `JSON.parse` is at 82–86 %, `RedisStore.get` (key, parse, expiry check) at 80–81 %. Measured apart (a throwaway script, not in this suite), keeping the metadata in a JSON array header in front of the value\'s own JSON saved about 0.4 µs per read (4 points, within the noise), too little to reach the target, so the entry stays one JSON document.',
      '- The engine adds under 1 µs of user CPU per read over `RedisStore.get`: the L1 miss, dating the entry\'s log position, the verdict, the promotion into L1 (a new L1 entry and an lru-cache eviction) and one async frame. `get` goes to L2 straight from the L1 miss, without building the `Lookup` that `lookup` returns, and the L1 copy is the only copy (the first version copied the entry once more to date it, and ran through three more async frames: 66.8 %).',
      '- `BreakerStore` now costs 2–4 points (`callTimeoutMs: Infinity` row vs as deployed). One promise per call bounds it and counts its outcome; one timer per breaker watches every call with the default timeout. Its first version armed a timer per call (7 points); the second left each settled call in the watch queue until the timer swept it, so every read\'s promise and value lived for a whole 500 ms call timeout and reached the old generation (6 points). Settled calls now leave the queue as they settle (`packages/freshcache/src/adapters/resilience/circuit-breaker.ts`).',
      '- The kernel\'s share is not fixed: system CPU per read and redis-server CPU per read grow a little as the client gets slower, so a slower client loses slightly more than its own extra work.',
      '',
      'Auto-pipelining is on for every subject alike, as `createRedisConnection` now makes standalone connections (an earlier one-off run with it on for both gave the same ratio; the 10:17Z run did not: raw GET gained more than the engine). On a real network a read waits for the round trip as well as for this CPU, so the same overhead is a smaller share there (reasoned, not measured here).',
    ].join('\n'),
    nodeFlags: ['--expose-gc'],
    run: (progress) => import('./l2/redis-get-hit.bench.js').then((m) => m.redisGetHit(progress)),
  },
  {
    name: 'propagation-commit-to-applied',
    title: 'Commit → applied per region, WAL and outbox, on real PostgreSQL and Redis',
    measures: [
      'A PostgreSQL 15 (`startPostgres()`, wal_level=logical, fsync off, synchronous_commit on) and a redis-server (`startRedis()`) of its own, on free ports in temp folders; both stopped and deleted at the end.',
      'Two in-process topologies (`createTopology`), one per capture path, each on a database of its own (`CREATE DATABASE bench_wal`, `bench_outbox`): origin `postgres`, capture `wal` (a slot of its own, dropped at the end with `dropWalSlot`) or `outbox` (trigger + NOTIFY, `relay.pollMs` 1000), log and L2 on the one Redis (a namespace per path), regions us-east 100 ms, eu-west 300 ms, ap-south 600 ms with jitter 0, `seed: false`. A third path runs across processes, as `freshcache up` does: WAL capture on a database of its own (`bench_processes`), a relay process and 2 node processes per region (`freshcache serve`, the TypeScript sources through tsx), the same regions, log and L2.',
      'A separate `pg` client makes the changes straight in SQL: `UPDATE content SET title = … WHERE id = … RETURNING version` over 50 rows, one every 20 ms on a fixed schedule (a rate far below what either path carries, so this measures latency, not a queue).',
      '30 warm-up UPDATEs per path are not recorded; then 3 rounds of 100 UPDATEs per path, the paths taking turns (wal, outbox, wal-processes, wal, …) so drifting load falls on all; each batch waits (for the events, bounded at 10 s) until every region applied all of it. 300 recorded UPDATEs per path.',
      'Heard on `topology.events` `invalidation.applied` (across processes: on each node\'s `/api/events` stream, each node a sample): `status.regions[region].lagMs` is applied − committedAt, where committedAt is the origin\'s commit time (WAL: the commit timestamp pgoutput reports; outbox: `clock_timestamp()` when the trigger wrote the row, just before the commit) and applied is `Date.now()` when the region\'s L1 applied it (the region\'s consumer group deletes the key from the shared L2 on its own delay line; that is not in this number). The region\'s configured delay is subtracted; what is left is the path: capture, relay, the Redis log, the region\'s reader, the delay timer\'s own lateness and the apply. Same machine, same clock; both ends have 1 ms resolution.',
      'Percentiles are nearest-rank over the 300 UPDATEs (p99 is the 297th smallest; across processes over 600 samples, two nodes per region). An UPDATE not applied in a region counts against that row\'s target. The last row of each path is the relay alone: publishedAt − committedAt.',
      'This is where commit → applied is measured against each region\'s delay, in one process and across processes: `test/integration/multi-process.test.ts` asserts only that no node applies before its region\'s delay and that the regions apply in delay order, since a wall-clock bound in a test fails on a busy shared machine for reasons that are not freshcache\'s.',
    ].join('\n'),
    notes: [
      'Written for the run of 2026-12-01T01:36Z above (load average 3.9 when it started, falling to 2.5: the machine was settling after the benchmarks before it).',
      '',
      '- **Target met on every path in every region:** in one process p99 4–6 ms beyond the delay, p50 2 ms, max 10 ms; across processes (a relay process, two node processes per region, each node a sample) p99 8 ms, p50 4 ms, max 14 ms. Every UPDATE was applied everywhere. The relay step alone (commit → on the Redis log) is p50 1 ms, p99 2–4 ms; at the median the remaining 1–3 ms are the region reading the log (across processes, a Redis round trip from another process), the delay timer firing late, and the apply.',
      '- This is the tight figure that `test/integration/multi-process.test.ts` no longer asserts: there, only the order of the regions, and that no node applies before its delay, are checked, because a wall-clock bound fails on a busy 2-core machine for reasons that are not freshcache\'s.',
      '- WAL and outbox are alike here because NOTIFY wakes the outbox relay at once: the 1 s poll only matters when a notification is lost. The outbox\'s commit time is the trigger\'s `clock_timestamp()`, taken just before the commit, so its figure also holds the end of the statement and the commit, and the WAL\'s does not (under 1 ms either way here).',
      '- **The tail depends on the machine being free.** A run at 2026-11-24T11:25Z, with other work on the machine (load average 4.2–4.5 on 2 cores), missed the target on both paths: p50 3 ms, but p99 74–99 ms beyond the delay, with the relay step alone at p99 52–53 ms. The median did not move; the tail is the walsender, the relay\'s event loop and redis-server waiting for a core, not the capture path itself. On a shared 2-core machine, read the load average before the p99.',
    ].join('\n'),
    nodeFlags: [],
    run: (progress) => import('./propagation/commit-to-applied.bench.js').then((m) => m.commitToApplied(progress)),
  },
  {
    name: 'pipeline-change-throughput',
    title: 'Change pipeline throughput, commit → applied in every region, WAL and outbox',
    measures: [
      'A PostgreSQL 15 (`startPostgres()`, wal_level=logical, fsync off, synchronous_commit on) and a redis-server (`startRedis()`) of its own, on free ports in temp folders; both stopped and deleted at the end.',
      'Three in-process topologies (`createTopology`, the demo app\'s `content` table and capture rule), each on a database of its own: WAL capture (pgoutput, a slot of its own, dropped at the end), outbox capture (trigger + NOTIFY, poll 1 s), and, as a diagnosis without a target, WAL capture with each region\'s L2 in process memory instead of on the Redis. Log (and L2) on the one Redis, a namespace each; regions us-east 100 ms, eu-west 300 ms, ap-south 600 ms, jitter 0; 20,000 rows, inserted in transactions of 5,000 whose events pass before anything is counted.',
      '**Full speed:** 2 writer connections (`pg`, in the same process) commit `UPDATE content SET title = … WHERE id > a AND id <= a + 1000` back to back for 5 s, each on its own half of the rows: 1,000 row changes per transaction, so that PostgreSQL\'s commit rate is not what is measured. Each transaction is one invalidation event (its 1,000 `content:<id>` keys with their versions, and the `list:bench` tag). Then the run waits (bounded at 60 s) until every region applied every change.',
      'Heard on `topology.events` `invalidation.applied`: a region\'s L1 rate is its changes ÷ (its last apply − its delay − the first commit), the commit time being the origin\'s (WAL: pgoutput\'s commit timestamp; outbox: `now()` in the trigger, the transaction\'s start). A region has applied a change once its nodes\' L1s and its shared L2 have it: the L2 is the region\'s consumer group, which deletes each event\'s keys from the Redis L2 on its own delay line, so the run then polls `XINFO GROUPS` (every 50 ms) until every group has nothing pending and no lag; the groups\' rate is changes ÷ (that moment − the longest delay − the first commit), and the next measurement starts only then. `changes/s applied in every region` is the lower of the slowest L1 rate and the groups\' rate, the median of 3 rounds taken in turn (wal, outbox, wal with memory L2, wal, …) after a 1.5 s warm-up each. Also shown: the writers\' own commit rate, and the rate onto the log (changes ÷ (last published − first commit)). `limited by` says `the writers` when the regions applied at ≥ 95 % of the writers\' rate: the pipeline kept up, and its figure is a floor.',
      '**Fixed rate:** one writer commits 100 rows every 20 ms (5,000 changes/s) on a fixed schedule for 6 s. Each change\'s lag in each region is applied (its L1) − committed − the region\'s delay (every change of a transaction has its transaction\'s); percentiles are nearest-rank over the 30,000 changes. Two more rows per path: the relay alone (published on the log − committed), and the writer\'s UPDATE of its 100 rows as the client timed it, commit included.',
      'After the measured rounds, one more full-speed round (until the consumer groups are done) of the WAL and the outbox path runs under the inspector\'s CPU profiler (in-process, 1 ms sampling; the whole profiles are kept in `bench/.results/pipeline-*.cpuprofile`). Everything runs in the one process: the relay, the three regions (their log readers, consumer groups and L1 applies) and the writers\' pg clients. V8 samples wall time on the main thread, so on a busy machine a preempted process\'s waiting lands on whatever it was running.',
    ].join('\n'),
    notes: [
      'Written for the run of 2026-12-01T10:17Z above (load average 1.9 when it started, on 2 cores; the machine otherwise quiet). A run four minutes before it (10:13Z, load 0.0) gave the same throughputs (WAL 32.9 k, outbox 14.6 k changes/s) and an outbox lag of p99 48–51 ms beyond the delay: that figure sits at its target, and moves with the machine. On this machine read the load average before the numbers.',
      '',
      '- **Targets.** All met in the run above: the WAL path is applied in every region (the nodes\' L1s and the shared L2s) at 33.1 k changes/s (target 20 k), and kept up with its writers; the outbox path at 13.4 k changes/s (target 10 k). At a fixed 5,000 changes/s the lag beyond the delay is p99 11–12 ms (WAL) and 38–40 ms (outbox), target 50 ms.',
      '- **What it took, WAL (15.8 k → 33.1 k changes/s through the consumer groups).** (1) A region\'s group deleted an event\'s keys from the shared L2 one awaited script call after another: 1,000 round trips for a 1,000-row transaction. It now sends them in batches (`Store.dropMany`: one script call per 256 keys on standalone Redis; on a Cluster a call per key, sent at once), at most 8 batches in flight per cache. (2) The group read its next batch only once the last one was applied, that is after the region\'s delay: it now reads on while up to 32 batches wait on the delay line, and acknowledges a batch with one XACK on the log\'s own connection. (3) The Redis connections pipeline the commands of one tick (ioredis `enableAutoPipelining`). On the way, a first try with a concurrency limit that queued waiters in an array (`Array.shift`, O(n)) spent 81 % of the CPU there and never finished: the limit keeps a head index now.',
      '- **What it took, outbox (relay lag p50 44 ms → 5 ms).** Each read of the outbox walked the rows already deleted (a busy outbox holds them by the hundred thousand until autovacuum): a bitmap scan of the `table_name` index, 10–30 ms a read. The feed now reads after the last id it took, plus the rows of the transactions its read\'s snapshot saw in progress (`txid_current_snapshot()`: those it lists, and any from its xmax on), in index scans that start past the deleted rows: about 1 ms a read. A property test (writers interleaved at random, with rollbacks and batches of 1–4) found the xmax case, where a transaction that took its id early and its transaction id late was skipped.',
      '- **What is left in the profile:** GC (24–28 %); the outbox\'s `parseRow` (14 %: each row\'s JSON scanned for integers beyond 2^53 before parsing); the regions\' marks (`Generations.versioned`/`versionOf`, 5–8 %); each of the six readers parsing every event\'s JSON (`parseObject`, 5 %: a 1,000-row event is about 40 KB); the capture rules rendering keys (`renderInto`, 4–5 %); pgoutput tuples and the `updated_at` timestamps nobody reads (`readTuple`, `parseDate`, 4–6 %). In a deployment the relay and each region run in processes of their own, so these do not add up on one core as they do here.',
      '- **The outbox\'s lag** is dated from its transaction\'s start (`now()` in the trigger), so it includes the writer\'s statement (the `— (the writer)` row). Its tail (p99 37–46 ms for the relay alone, p50 5 ms) comes with the rest of this process: with only the outbox path in the process, the relay took p99 13 ms from commit to the rows deleted.',
    ].join('\n'),
    nodeFlags: [],
    run: (progress) => import('./pipeline/change-throughput.bench.js').then((m) => m.changeThroughput(progress)),
  },
  {
    name: 'load-tester-throughput',
    title: '`freshcache load` against a bare HTTP server, with autocannon as the peer',
    measures: [
      'The server is bench/http/servers/peer-server.ts `node-http` (node:http alone, a small JSON body with its length), a process of its own. Each client is a process of its own, one after the other; none is pinned to a CPU (a client pinned to one core of a busy 2-core machine gets a fraction of it, and the target is what one process drives on this machine): `freshcache load` as a user runs it (the CLI through tsx, `--read-ratio 1`: reads only, `--keys 100`, `--json`), in the closed model with 50 connections and in the open model at 20,000 req/s; and autocannon 9 with 50 connections (its programmatic API, `bench/load/autocannon-run.ts`), the peer.',
      'Rounds of 5 s, 3 rounds, the clients taking turns round by round; req/s is the median round (freshcache: answered reads ÷ its measured window; autocannon: requests ÷ duration), p50 and p99 the median of the rounds\' (freshcache: from its HDR histogram; the open model measures from when each request was due). `client CPU` is the client\'s own `process.cpuUsage()` over its window (`freshcache load` reports it as `clientCoresBusy`, autocannon-run.ts measures the same around autocannon): near 1.00 the client was the limit; `req per client CPU-second` is req/s ÷ client CPU, what the client drives per core of its own, which holds on a busy machine where a pinned client gets a fraction of its core. `server CPU` is the server process\'s CPU over the whole client run (start-up included) divided by the window: near 1.00 the server was the limit.',
      'Target: `freshcache load` drives ≥ 20,000 req/s from one process.',
    ].join('\n'),
    notes: [
      'Written for the run of 2026-12-01T07:34Z above (load average 2.7 when it started, falling: the machine otherwise quiet).',
      '',
      '- **Target met.** freshcache load drove 56.5 k req/s in the closed model with 50 connections (autocannon, the peer, 61.4 k in the same rounds), and held the open model\'s 20,000 req/s schedule at half a core (p99 88 ms measured from when each request was due).',
      '- An earlier run at 06:57Z, at load 13–14 while other work shared the machine, gave 15.3 k req/s (autocannon 15.1 k): each process then got a fraction of a core. Read `client CPU` and the load average before the req/s.',
      '- **Where the client\'s time goes** (a `--cpu-prof` of that run): the socket write of each request (`writeLatin1String`, the loopback write system call) is 18 % of all samples and the largest single cost; undici, the histogram, picking keys and the freshness check are each under 1 %.',
    ].join('\n'),
    nodeFlags: [],
    run: (progress) => import('./load/load-tester.bench.js').then((m) => m.loadTester(progress)),
  },
  {
    name: 'fleet-metrics-aggregation',
    title: 'Fleet metrics: `GET /api/metrics` on the control process over 12 nodes',
    measures: [
      'An embedded control process (`createTopology`, `buildApp`, a real socket) with 12 nodes in its node registry, each a bare `node:http` server on a free port answering `/api/metrics/node` with a real node\'s figures: an embedded topology\'s `nodeSnapshot()` after 2,048 edge reads and invalidation lags per region, so every latency and lag sketch is full.',
      'The control asks the 12 nodes in parallel (1 s timeout each) and merges their counters and sketches; the bench checks every answer merged all 12 (and the control\'s own regions: embedded, it serves them too). 50 warm-up requests, then 500 timed ones in sequence, client-side (`fetch`), p50/p99/max nearest-rank.',
      'Target: p99 ≤ 50 ms.',
    ].join('\n'),
    nodeFlags: [],
    run: (progress) => import('./fleet/metrics-aggregation.bench.js').then((m) => m.metricsAggregation(progress)),
  },
  {
    name: 'library-install',
    title: 'What `npm install freshcache ioredis` costs a service',
    measures: [
      'Builds the library package (`packages/freshcache`), packs it with `npm pack`, and installs the tarball and ioredis from the npm registry into an empty project; bentocache is installed the same way into another (`--ignore-scripts`, no audit).',
      'Packages are counted from the project\'s lockfile; MB is every file under its node_modules. The target is the issue\'s: at most 30 packages and 10 MB for freshcache with ioredis, against bentocache\'s 24 packages and about 7 MB. test/docs/library-package.test.ts checks the same offline (what the tarball holds, and the lockfile closure) in `npm test`.',
    ].join('\n'),
    nodeFlags: [],
    run: (progress) => import('./library-install.js').then((m) => m.libraryInstall(progress)),
  },
  {
    name: 'cluster-resharding-1m',
    title: 'Resharding a Redis Cluster of 1 M keys under load',
    measures: [
      'A Redis Cluster of 3 primaries (`startRedisCluster()` of `packages/freshcache-server/src/tools/local-redis-cluster.ts`: free ports, temp folders, no replicas) is filled with 1,000,000 entries through a `RedisStore` on freshcache\'s own Cluster connection (`createRedisConnection`), 512 sets in flight.',
      'A load of 32 readers and 8 writers of random keys (`RedisStore.get` and `set`, one request in flight each) runs throughout. Each operation is preceded by 5 s of load alone, for the baseline latencies.',
      'Then `RedisClusterAdmin` (`redis-cli --cluster` driven as a subprocess, 10 keys per `MIGRATE`) adds a fourth primary, which moves one primary\'s worth of slots (4,096) and their keys onto it, and then removes it, which moves them back. Each is timed from its start (after its input was checked) to the cluster agreeing on the result; keys moved are read from the fourth server\'s DBSIZE.',
      'Target: 0 failed requests during each operation. Latencies are sampled one request in 8, nearest-rank.',
    ].join('\n'),
    notes: [
      'Written for the run of 2026-12-01T10:31Z above (load average 1.0 when it started; other tests ran on the machine during it, 4.4 at the end).',
      '',
      '- **Target met:** 0 failed requests out of 0.62 M during the add and 1.10 M during the removal; each moved 4,096 slots and 249,977 keys, in 21.1 s and 17.9 s (12–14 k keys/s with 10 keys per `MIGRATE`).',
      '- **Latency:** the add raised the p99 from 4.3 ms to 7.5 ms and left the p50 as it was; during the removal both stayed at their baseline. Requests to a slot being moved are redirected (`ASK`) or retried (`TRYAGAIN`, a script whose keys are split between the two nodes for a moment) by ioredis; no request failed.',
      '- With auto-pipelining on, `test/integration/redis-resharding.test.ts` (2,000 keys) failed 378 requests while slots moved (`MOVED …`, and `All keys in the pipeline should belong to the same slots allocation group`): ioredis handles a redirection for a whole per-node batch. freshcache\'s Cluster connections no longer auto-pipeline (`packages/freshcache/src/adapters/redis/redis-connection.ts`); what that costs a busy cluster\'s throughput was not measured here.',
    ].join('\n'),
    nodeFlags: [],
    run: (progress) => import('./cluster/resharding.bench.js').then((m) => m.resharding(progress)),
  },
  {
    name: 'cluster-failover',
    title: 'Failover of a Redis Cluster primary under load',
    measures: [
      'A Redis Cluster of 3 primaries with 1 replica each (`startRedisCluster({ primaries: 3, replicas: 1 })` of `packages/freshcache-server/src/tools/local-redis-cluster.ts`: free ports, temp folders, its default `cluster-node-timeout` of 2 s for a test cluster; Redis\'s own default is 15 s) holds the L2 and the invalidation log; a PostgreSQL 15 of its own (`startPostgres()`) is the origin.',
      'Two freshcache nodes of one region, each built as `freshcache serve` builds it (`createTopology` from a config: the demo app\'s `content` table and loader on PostgreSQL, a `BreakerStore(RedisStore)` L2 and a `RedisStreamLog` with its defaults (`log.cutOffMs` 1 s, `WAIT` for the replica), both on the Cluster), in this one process; the first is also the relay (outbox capture). Measured in-process rather than over HTTP because each read\'s tier (`lookupOrLoad`: L1, L2 or origin) is what this measures, and a response\'s `X-Cache` says HIT for L1 and L2 alike; the HTTP layer adds nothing to a failover.',
      `The origin holds 20,000 rows, twice the default L1 (10,000 entries), so about half the reads reach L2. Each node reads every key once (L2 then holds all of them). Then reads of random keys are sent on a fixed schedule (open model, 1,000 reads/s over the two nodes, at most 1,000 in flight) and 20 UPDATEs/s of random rows go to PostgreSQL, captured and put on the log. Every origin read the loader makes is timed.`,
      'After 4 s of load, the primary is killed with SIGKILL, and CLUSTER NODES is polled every 25 ms on another primary (when it marks it failed, when its replica is a primary). The run goes on until the first read that started after the kill is an L2 hit on a key of the killed primary\'s slots, then 8 s more (bounded at 20 s after the kill; the per-bucket tables stop 2 s after that hit). Breaker changes and L1 flushes are read from the nodes\' own warnings.',
      'Twice, each on a new cluster: killing the primary that holds the log\'s slot (`<namespace>{log}`), and killing another one. No peer is named for a failover: the killed primary\'s slots are compared with the other primaries\' slots in the same run, and the run with the log with the run without. `during` is from the kill to the first L2 hit on its slots, `after` the 8 s after it; latencies are a read\'s, sent to answered (nearest-rank). The tables: one row per run; the other primaries\' slots in each run; and each run per 250 ms from 1 s before the kill (the reads by the time they were sent, split by the slots\' primary and by what served them; the origin\'s loads by the time they were made; the cluster\'s, breakers\' and nodes\' events). Target: 0 failed reads (the origin serves what L2 cannot).',
    ].join('\n'),
    notes: [
      'Written for the run of 2026-12-01T12:16Z above (load average 1.6: a quiet machine). An earlier run (12:03Z, at load 9, before the changes below) is described where it differs. No peer is named for a failover: the killed primary\'s slots are compared with the other primaries\' slots, and the log\'s primary with another one.',
      '',
      '- **Target met:** 0 failed reads in both runs (4,429 and 4,257 reads from the kill to the first L2 hit on its slots, none left unsent): what L2 could not serve, the PostgreSQL origin did.',
      '- **Redis\'s part:** with the 2 s node timeout the other nodes marked the killed primary failed 2.4–3.2 s after the kill -9, and its replica was a primary 3.3–4.2 s after it (CLUSTER NODES). Redis\'s own default node timeout (15 s) would add about 13 s to both (not measured).',
      '- **freshcache\'s part: the first L2 hit on its slots came 20 ms after the promotion (another primary: 4.26 s after the kill).** Commands to a dead primary\'s slots are neither refused nor redirected: ioredis holds them until it learns the new slot map. So the first reads of its slots waited out the breaker\'s 500 ms call timeout (its slots\' read p99 502 ms, against 1 ms before), and a few in a row opened that primary\'s breaker 0.5 s after the kill; from then on its keys went to the origin at once. The client asks for the slot map every second (`slotsRefreshInterval`, 1 s instead of ioredis\'s 5 s), so once the replica took over, its keys had a new primary, and a new, closed breaker. In the 12:03Z run, with ioredis\'s default refresh and one breaker for the whole L2, the first hit came 2.0–2.7 s after the promotion, when that breaker\'s probe closed it.',
      '- **The other primaries\' slots keep their L2.** Each primary of the Cluster has a breaker of its own (`BreakerStore` over `Store.partitionOf`): over the window, the other slots\' L2 hit ratio was 99.0 % (99.8 % before), and the origin took 174 loads/s (peak 316 in 250 ms, against 1/s before): the killed primary\'s keys alone, which L1 did not hold. In the 12:03Z run one breaker guarded the region\'s whole L2, so every L1 miss went to the origin whichever primary held its key (the other slots\' L2 hit ratio fell to 14.3 %, and the origin took 446 loads/s).',
      '- **Killing the log\'s primary costs far more.** The nodes\' log readers were cut off: each node flushed its L1 at every cut-off (`log.cutOffMs` 1 s: at 1, 2 and 3 s) and once more when the promoted replica answered (`log reconnected`), 8 flushes over the two nodes. Each also distrusts every shared L2 entry written before the cut-off (a reader cut off cannot tell which of them the events it missed made stale), until reads fill L2 again. From 1 s on nearly every read went to the origin (806 loads/s on average over the window, peak 1,096 in 250 ms, for 1,000 reads/s), and the origin still took 780 loads/s over the 8 s after the first L2 hit, with an L2 hit ratio of 12 % on the other slots: the L2 is as good as empty until reads fill it again. At about 700 L1 misses/s over 20,000 keys, reading each key once takes about 30 s, so the origin\'s load stays high for tens of seconds after such a failover (an estimate: the run stops 8 s after the first hit, to stay under 2 minutes). With a working set larger than the L1, the cost of a failover of the log\'s primary is the L2\'s distrust more than the L1s\' flush; trusting the entries again once the reader has read on from its cursor without a gap and applied what it missed would avoid most of it (not done: trust, once withdrawn, is never given back today).',
      '- **Load:** 1,000 reads/s. A first version sent 2,000 reads/s: in the log\'s run the origin then had to serve 2,000 loads/s on the same 2 cores as the nodes and the Cluster (at load 5–15), reads queued past the 1,000 in-flight cap and were not sent, and the read p99 reached 5 s.',
    ].join('\n'),
    nodeFlags: [],
    run: (progress) => import('./cluster/failover.bench.js').then((m) => m.failover(progress)),
  },
];
