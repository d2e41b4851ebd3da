import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadReport } from '../../packages/freshcache-server/src/tools/load/load-report.js';
import { median } from '../lib/median.js';
import { processTreeCpuSeconds } from '../lib/process-cpu.js';
import type { Progress } from '../lib/progress.js';
import type { Row, ScenarioOutput } from '../lib/row.js';
import { startServerChild } from '../lib/server-child.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PEER = fileURLToPath(new URL('../http/servers/peer-server.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../packages/freshcache-server/src/cli/main.ts', import.meta.url));
const AUTOCANNON = fileURLToPath(new URL('./autocannon-run.ts', import.meta.url));
const BODY = JSON.stringify({ id: 1, slug: 'article-1', title: 'Article 1: the news story', tags: ['news'], version: 7 });
const ROUNDS = 3;
const SECONDS = 5;
const CONNECTIONS = 50;
const TARGET_RPS = 20_000;

interface Result {
  rps: number;
  p50: number;
  p99: number;
  /** The client's own CPU over its window, in cores. */
  clientCores: number;
}

/** Runs a node process and resolves with its stdout. */
function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} exited ${code}:\n${err}`))));
  });
}

const subjects: { name: string; run: (url: string) => Promise<Result> }[] = [
  {
    name: `freshcache load, closed model, ${CONNECTIONS} connections`,
    run: async (url) => {
      const report = JSON.parse(
        await run(['--conditions=freshcache-source', '--import', 'tsx', CLI, 'load', '--target', `bare=${url}`, '--read-path', '/edge/us-east/content/{id}', '--delay', 'bare=0', '--read-ratio', '1', '--keys', '100', '--connections', String(CONNECTIONS), '--duration', `${SECONDS}s`, '--json']),
      ) as LoadReport;
      return { rps: report.totals.readsPerSecond, p50: report.totals.latencyMs.p50, p99: report.totals.latencyMs.p99, clientCores: report.totals.clientCoresBusy };
    },
  },
  {
    name: `freshcache load, open model, ${TARGET_RPS.toLocaleString('en-US')} req/s`,
    run: async (url) => {
      const report = JSON.parse(
        await run(['--conditions=freshcache-source', '--import', 'tsx', CLI, 'load', '--target', `bare=${url}`, '--read-path', '/edge/us-east/content/{id}', '--delay', 'bare=0', '--read-ratio', '1', '--keys', '100', '--rate', String(TARGET_RPS), '--duration', `${SECONDS}s`, '--json']),
      ) as LoadReport;
      return { rps: report.totals.readsPerSecond, p50: report.totals.latencyMs.p50, p99: report.totals.latencyMs.p99, clientCores: report.totals.clientCoresBusy };
    },
  },
  {
    name: `autocannon 9, ${CONNECTIONS} connections`,
    run: async (url) => {
      const out = JSON.parse(await run(['--import', 'tsx', AUTOCANNON, `${url}/edge/us-east/content/1`, String(CONNECTIONS), String(SECONDS)])) as {
        requests: { total: number };
        duration: number;
        latency: { p50: number; p99: number };
        clientCoresBusy: number;
      };
      return { rps: out.requests.total / out.duration, p50: out.latency.p50, p99: out.latency.p99, clientCores: out.clientCoresBusy };
    },
  },
];

/**
 * `freshcache load` against a bare node:http server, with autocannon as the peer in the same run:
 * each client a process of its own, rounds taken in turn.
 */
export async function loadTester(progress: Progress): Promise<ScenarioOutput> {
  // Not pinned (taskset to both CPUs): a client pinned to one core of a busy 2-core machine gets a
  // fraction of it, and the target is what one process drives on this machine.
  const server = await startServerChild(PEER, ['node-http', BODY], '0,1');
  const url = `http://127.0.0.1:${server.port}`;
  const results = new Map<string, (Result & { serverCores: number })[]>(subjects.map((s) => [s.name, []]));
  try {
    const steps = ROUNDS * subjects.length;
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, subject] of subjects.entries()) {
        progress.update((round * subjects.length + i) / steps, `round ${round + 1}: ${subject.name}`);
        // The server's CPU over the whole child run (start-up included): a floor of how busy it was in the window.
        const cpuBefore = processTreeCpuSeconds(server.pid);
        const started = performance.now();
        const result = await subject.run(url);
        const seconds = (performance.now() - started) / 1000;
        const serverCores = (processTreeCpuSeconds(server.pid) - cpuBefore) / Math.min(seconds, SECONDS);
        results.get(subject.name)!.push({ ...result, serverCores });
      }
    }
  } finally {
    await server.close();
  }
  const rows: Row[] = subjects.map(({ name }) => {
    const runs = results.get(name)!;
    const rps = median(runs.map((r) => r.rps));
    const cores = median(runs.map((r) => r.clientCores));
    // Requests per second of the client's own CPU: what one free core would drive, on a busy machine too.
    const perCore = median(runs.map((r) => r.rps / r.clientCores));
    return {
      client: name,
      'req/s (median of 3)': Math.round(rps).toLocaleString('en-US'),
      'rounds req/s': runs.map((r) => Math.round(r.rps).toLocaleString('en-US')).join(', '),
      'p50 ms': median(runs.map((r) => r.p50)).toFixed(2),
      'p99 ms': median(runs.map((r) => r.p99)).toFixed(2),
      'client CPU (cores)': cores.toFixed(2),
      'req per client CPU-second': Math.round(perCore).toLocaleString('en-US'),
      'server CPU (cores, ≤)': median(runs.map((r) => r.serverCores)).toFixed(2),
      [`≥ ${TARGET_RPS.toLocaleString('en-US')} req/s`]: name.startsWith('autocannon') ? '(peer)' : rps >= TARGET_RPS * 0.99 ? 'yes' : 'no',
    };
  });
  progress.done(rows.map((r) => `${r.client}: ${r['req/s (median of 3)']}`).join('; '));
  return { rows };
}
