import { parseArgs } from 'node:util';
import { runLoad } from '../../tools/load/load-driver.js';
import type { LoadModel } from '../../tools/load/load-driver.js';
import { LoadProgress } from '../../tools/load/load-progress.js';
import { buildReport, formatReport } from '../../tools/load/load-report.js';
import { DEMO_READ_PATH, DEMO_WRITE_PATH, DEMO_WRITE_SQL, demoContentIds, demoWriteBody } from '../../demo/demo-load.js';
import { fetchJson, parseDelays, parseTargets, resolveDelays, resolveTargets } from '../../tools/load/load-targets.js';
import { ApiWriter, SqlWriter } from '../../tools/load/load-writer.js';
import type { LoadWriter } from '../../tools/load/load-writer.js';

export const loadHelp = `freshcache load --target URL[,URL…] [options]

Drives reads through the targets and writes to the origin, then reports throughput, latency
percentiles, hit ratio and errors per region, and freshness: a read is stale when a version
newer than the one it got had committed more than its region's delay + margin before it was
sent. Exits 3 when any read was stale beyond that bound.

  --target URL[,URL…]  regions' or nodes' URLs; reads are spread over them. region=URL names a
                       target's region; otherwise its /api/info says which regions it serves
                       (every one gets its share), else the read path or the host names it
  --duration D         how long to run: 60s (default), 500ms, 2m
  --rate N             open model: N requests/s arrive whatever the answers take
  --connections N      closed model: N connections, each sending when its answer came (default
                       50); with --rate, the connections per target (default 64)
  --read-ratio R       share of requests that are reads (default 0.95; 1: no writes)
  --keys N             keys 1..N (default: the demo's content ids when the target runs the demo,
                       else 10000)
  --zipf S             Zipf exponent of key popularity (default 1.1; 0: uniform)
  --read-path P        the read, {id} the key and {region} the region (default
                       ${DEMO_READ_PATH}); the version read is X-Cache-Version
  --write-url URL      write through the API at URL (default: the first target)
  --write-path P       the write: PUT P, {id} the key (default ${DEMO_WRITE_PATH}, the demo's)
  --sql URL            write in SQL instead, on this PostgreSQL
  --write-sql SQL      the write: $1 the key, $2 (if used) a new text, returning the version
                       (default: ${DEMO_WRITE_SQL})
  --delay R=MS,…       regions' delays (default: each target's /api/regions, delay + jitter)
  --margin MS          added to each region's delay to make its bound (default 100)
  --json               print the report as JSON (progress still goes to stderr)

Example: freshcache load --target http://127.0.0.1:3000 --duration 30s --rate 2000`;

/** "60s", "500ms", "2m", or a bare number of seconds, in ms. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new Error(`--duration: "${text}" is not a duration like 60s, 500ms or 2m`);
  const value = Number(match[1]);
  return match[2] === 'ms' ? value : match[2] === 'm' ? value * 60_000 : value * 1000;
}

function number(name: string, text: string | undefined, fallback: number, check: (n: number) => boolean, what: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || !check(value)) throw new Error(`--${name} must be ${what}, got ${text}`);
  return value;
}

export async function load(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      duration: { type: 'string', default: '60s' },
      rate: { type: 'string' },
      connections: { type: 'string' },
      'read-ratio': { type: 'string' },
      keys: { type: 'string' },
      zipf: { type: 'string' },
      'read-path': { type: 'string', default: DEMO_READ_PATH },
      'write-url': { type: 'string' },
      'write-path': { type: 'string', default: DEMO_WRITE_PATH },
      sql: { type: 'string' },
      'write-sql': { type: 'string' },
      delay: { type: 'string' },
      margin: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(loadHelp);
    return;
  }
  if (!values.target) throw new Error(`load needs --target URL\n\n${loadHelp}`);
  const specs = parseTargets(values.target);
  const durationMs = parseDuration(values.duration);
  if (durationMs <= 0 || durationMs > 86_400_000) throw new Error(`--duration must be more than 0 and at most a day, got ${values.duration}`);
  const readRatio = number('read-ratio', values['read-ratio'], 0.95, (n) => n >= 0 && n <= 1, 'between 0 and 1');
  const zipf = number('zipf', values.zipf, 1.1, (n) => n >= 0 && n <= 10, 'between 0 and 10');
  const marginMs = number('margin', values.margin, 100, (n) => n >= 0, 'a number of ms ≥ 0');
  const connections = number('connections', values.connections, values.rate ? 64 : 50, (n) => Number.isInteger(n) && n >= 1 && n <= 10_000, 'an integer 1..10000');
  const model: LoadModel = values.rate
    ? { kind: 'open', rate: number('rate', values.rate, 0, (n) => n > 0 && n <= 1_000_000, 'more than 0 and at most 1000000'), connections }
    : { kind: 'closed', connections };
  const readPath = values['read-path'];
  if (!readPath.startsWith('/') || !readPath.includes('{id}')) throw new Error(`--read-path must start with / and hold {id}, got ${readPath}`);
  if (values['write-sql'] && !values.sql) throw new Error('--write-sql needs --sql URL');
  if (!values['write-path'].startsWith('/') || !values['write-path'].includes('{id}')) throw new Error(`--write-path must start with / and hold {id}, got ${values['write-path']}`);
  const delaysGiven = values.delay ? parseDelays(values.delay) : new Map<string, number>();

  const targets = await resolveTargets(specs, readPath);
  const { delays, unknown } = await resolveDelays(targets, delaysGiven);
  const keys = values.keys === undefined ? undefined : number('keys', values.keys, 0, (n) => Number.isInteger(n) && n >= 1 && n <= 10_000_000, 'an integer 1..10000000');
  const ids = keys !== undefined ? Array.from({ length: keys }, (_, i) => i + 1) : ((await demoContentIds(specs[0]!.url.origin, fetchJson)) ?? Array.from({ length: 10_000 }, (_, i) => i + 1));

  let writer: LoadWriter | undefined;
  if (readRatio < 1) writer = values.sql ? new SqlWriter(values.sql, values['write-sql'] ?? DEMO_WRITE_SQL) : new ApiWriter(new URL(values['write-url'] ?? specs[0]!.url.href), values['write-path'], demoWriteBody);

  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`freshcache load: ${targets.map((t) => `${t.region} ${t.origin}${t.pathTemplate}`).join(', ')}; ${ids.length} keys, zipf ${zipf}; writes: ${writer?.describe ?? 'none'}`);
  for (const region of unknown) log(`freshcache load: the delay of region ${region} is unknown, taken as 0 ms (give --delay ${region}=MS)`);

  const progress = new LoadProgress(process.stderr, durationMs);
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const intervalMs = 1_000;
    const run = await runLoad(
      { targets, ids, zipf, readRatio, model, durationMs, writer, delays, marginMs },
      { signal: stop.signal, intervalMs, onInterval: (stats, elapsedMs) => progress.update(stats, elapsedMs, intervalMs) },
    );
    progress.done();
    const report = buildReport(run, model, marginMs);
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    if (report.totals.staleBeyondBound > 0) process.exitCode = 3;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
