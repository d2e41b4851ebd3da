import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { formatCount, formatMs, formatRatio, verdict } from '../lib/format.js';
import { median } from '../lib/median.js';
import type { ProfileSummary } from '../lib/cpu-profile.js';
import { processTreeCpuSeconds } from '../lib/process-cpu.js';
import type { Progress } from '../lib/progress.js';
import type { Row, ScenarioOutput } from '../lib/row.js';
import { startServerChild } from '../lib/server-child.js';
import type { ServerChild } from '../lib/server-child.js';
import { startVarnish } from '../lib/varnish.js';
import type { Varnish } from '../lib/varnish.js';
import { wrkRun } from '../lib/wrk-run.js';
import type { WrkResult } from '../lib/wrk-run.js';

const PATH = '/edge/us-east/content/1';
/**
 * One core each: every server (node is one thread of JS; Varnish gets the same single core) on
 * CPU 0, wrk on CPU 1. Unpinned, the scheduler moves wrk and the server across both cores and
 * the server's GC threads take time from the client; pinned, each side has a core of its own and
 * wrk's CPU column shows it had room to spare.
 */
const SERVER_CPUS = '0';
const CLIENT_CPUS = '1';
/** One wrk thread for its one core; 50 keep-alive connections keep the server busy without queueing deep. */
const WRK_THREADS = 1;
const CONNECTIONS = 50;
const WARMUP_SEC = 2;
const MEASURE_SEC = 5;
/** Rounds taken in turn (edge, Fastify, node:http, Varnish, edge, …): drifting machine load falls on all of them. */
const ROUNDS = 5;
const PROFILE_SEC = 5;
const TARGET_VS_FASTIFY = 1.0;
const TARGET_VS_NODE_HTTP = 0.7;

const SERVERS = fileURLToPath(new URL('./servers/', import.meta.url));
/** Git-ignored: the whole CPU profiles go there. */
const RESULTS = fileURLToPath(new URL('../.results/', import.meta.url));

interface Subject {
  key: 'edge' | 'fastify' | 'node-http' | 'varnish';
  label: string;
  url: string;
  pid: number;
  rounds: { result: WrkResult; serverCpuSec: number }[];
}

/**
 * Edge GET HIT over HTTP with wrk: the freshcache edge, a bare Fastify route and a raw node:http
 * server with the same body, and Varnish in front of the edge route, each in a process of its
 * own pinned to one core, loaded in turn by wrk on the other core. Then a CPU profile of each node
 * server over one more load window.
 */
export async function edgeGetHit(progress: Progress): Promise<ScenarioOutput> {
  // One core for the servers and one for wrk: on a single core the client would take the server's time.
  if (os.availableParallelism() < 2) throw new Error('http-edge-get-hit needs at least 2 CPU cores (servers on CPU 0, wrk on CPU 1)');
  await mkdir(RESULTS, { recursive: true });
  progress.update(0, 'starting the edge (topology on embedded PGlite)');
  const children: ServerChild[] = [];
  let varnish: Varnish | undefined;
  try {
    const edge = await startServerChild(`${SERVERS}edge-server.ts`, [PATH], SERVER_CPUS);
    children.push(edge);
    progress.update(0, 'starting bare Fastify, node:http and Varnish');
    const fastify = await startServerChild(`${SERVERS}peer-server.ts`, ['fastify', edge.body], SERVER_CPUS);
    children.push(fastify);
    const nodeHttp = await startServerChild(`${SERVERS}peer-server.ts`, ['node-http', edge.body], SERVER_CPUS);
    children.push(nodeHttp);
    varnish = await startVarnish({ backendPort: edge.port, cpus: SERVER_CPUS });
    // One miss fills Varnish; every request after it must be a hit.
    await (await fetch(`http://127.0.0.1:${varnish.port}${PATH}`)).arrayBuffer();

    const subjects: Subject[] = [
      { key: 'edge', label: `freshcache edge GET ${PATH} (L1 HIT)`, url: `http://127.0.0.1:${edge.port}${PATH}`, pid: edge.pid, rounds: [] },
      { key: 'fastify', label: 'bare Fastify 5, same route and body', url: `http://127.0.0.1:${fastify.port}${PATH}`, pid: fastify.pid, rounds: [] },
      { key: 'node-http', label: 'raw node:http, same body', url: `http://127.0.0.1:${nodeHttp.port}${PATH}`, pid: nodeHttp.pid, rounds: [] },
      { key: 'varnish', label: 'Varnish 7 in front of the edge route (HIT)', url: `http://127.0.0.1:${varnish.port}${PATH}`, pid: varnish.pid, rounds: [] },
    ];
    const profiled = [
      { name: 'edge', child: edge, url: subjects[0]!.url },
      { name: 'fastify', child: fastify, url: subjects[1]!.url },
      { name: 'node-http', child: nodeHttp, url: subjects[2]!.url },
    ];
    const steps = subjects.length * (WARMUP_SEC + ROUNDS * MEASURE_SEC) + profiled.length * PROFILE_SEC;
    let done = 0;
    const load = async (label: string, url: string, pid: number, durationSec: number) => {
      progress.update(done / steps, label);
      const cpuBefore = processTreeCpuSeconds(pid);
      const result = await wrkRun({ url, threads: WRK_THREADS, connections: CONNECTIONS, durationSec, cpus: CLIENT_CPUS });
      const serverCpuSec = processTreeCpuSeconds(pid) - cpuBefore;
      done += durationSec;
      if (result.errors > 0 || result.non2xx > 0) throw new Error(`${label}: ${result.errors} socket errors, ${result.non2xx} non-2xx answers`);
      return { result, serverCpuSec };
    };

    for (const subject of subjects) await load(`warm-up ${subject.key}`, subject.url, subject.pid, WARMUP_SEC);
    const statsBefore = (await edge.ask({ type: 'stats' }, 'stats')).stats as RegionStats;
    const varnishBefore = await varnish.counters();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const subject of subjects) subject.rounds.push(await load(`${subject.key}, round ${round}/${ROUNDS}`, subject.url, subject.pid, MEASURE_SEC));
    }
    const statsAfter = (await edge.ask({ type: 'stats' }, 'stats')).stats as RegionStats;
    const varnishAfter = await varnish.counters();

    // Profiles come after the measured rounds: the profiler's own cost must not be in them.
    const profiles = new Map<string, ProfileSummary>();
    for (const { name, child, url } of profiled) {
      await child.ask({ type: 'profile-start' }, 'profiling');
      await load(`CPU profile of ${name}`, url, child.pid, PROFILE_SEC);
      profiles.set(name, (await child.ask({ type: 'profile-stop', saveTo: `${RESULTS}http-${name}.cpuprofile` }, 'profile')).summary);
    }

    const delta = (name: keyof RegionStats) => statsAfter[name] - statsBefore[name];
    const edgeReads = delta('l1Hits') + delta('l2Hits') + delta('misses') + delta('staleServed');
    const varnishDelta = (name: string) => (varnishAfter[name] ?? 0) - (varnishBefore[name] ?? 0);
    const perRoundRatio = (a: Subject, b: Subject) => median(a.rounds.map((r, i) => r.result.requestsPerSec / b.rounds[i]!.result.requestsPerSec));
    const [edgeSubject, fastifySubject, nodeSubject] = subjects as [Subject, Subject, Subject, Subject];
    const vsFastify = perRoundRatio(edgeSubject, fastifySubject);
    const vsNode = perRoundRatio(edgeSubject, nodeSubject);

    const rows = subjects.map((subject): Row => {
      const rates = subject.rounds.map((r) => r.result.requestsPerSec);
      const medianRound = [...subject.rounds].sort((a, b) => a.result.requestsPerSec - b.result.requestsPerSec)[Math.floor(ROUNDS / 2)]!;
      const cacheCheck =
        subject.key === 'edge'
          ? `${formatCount(delta('l1Hits'))} L1 hits of ${formatCount(edgeReads)} reads`
          : subject.key === 'varnish'
            ? `${formatCount(varnishDelta('MAIN.cache_hit'))} hits, ${formatCount(varnishDelta('MAIN.backend_req'))} backend requests`
            : '—';
      const isEdge = subject.key === 'edge';
      return {
        server: subject.label,
        'req/s (median round)': formatCount(median(rates)),
        'min – max req/s': `${formatCount(Math.min(...rates))} – ${formatCount(Math.max(...rates))}`,
        'p50 / p99 latency': `${formatMs(medianRound.result.latencyP50Ms)} / ${formatMs(medianRound.result.latencyP99Ms)}`,
        'server CPU (cores busy)': median(subject.rounds.map((r) => r.serverCpuSec / r.result.seconds)).toFixed(2),
        // Less moved by other work on the machine than req/s: what one answer costs the server.
        'server CPU per request': `${median(subject.rounds.map((r) => (r.serverCpuSec / r.result.requests) * 1e6)).toFixed(1)} µs`,
        'wrk CPU (of its core)': formatRatio(median(subject.rounds.map((r) => r.result.clientCpuSec / r.result.seconds))),
        'cache check (all rounds)': cacheCheck,
        'vs bare Fastify': isEdge ? formatRatio(vsFastify) : formatRatio(perRoundRatio(subject, fastifySubject)),
        'vs raw node:http': isEdge ? formatRatio(vsNode) : formatRatio(perRoundRatio(subject, nodeSubject)),
        target: isEdge ? `≥ ${formatRatio(TARGET_VS_FASTIFY)} of Fastify, ≥ ${formatRatio(TARGET_VS_NODE_HTTP)} of node:http` : '—',
        met: isEdge ? verdict(vsFastify >= TARGET_VS_FASTIFY && vsNode >= TARGET_VS_NODE_HTTP) : '',
      };
    });
    return { rows, tables: profileTables(profiles) };
  } finally {
    await varnish?.stop();
    for (const child of children) await child.close();
  }
}

interface RegionStats {
  l1Hits: number;
  l2Hits: number;
  misses: number;
  staleServed: number;
}

/** "Where the time goes": whose code the samples fell in, per server, then the edge's top functions. */
function profileTables(profiles: Map<string, ProfileSummary>): { title: string; rows: Row[] }[] {
  const names = [...profiles.keys()];
  const groups = new Set(names.flatMap((name) => profiles.get(name)!.groups.map((g) => g.group)));
  // Groups under 0.1 % in every server (a native call or two) would only lengthen the table.
  const visible = [...groups].filter((group) => names.some((name) => (profiles.get(name)!.groups.find((g) => g.group === group)?.share ?? 0) >= 0.001));
  const groupRows = visible.map((group): Row => {
    const row: Row = { 'self time in': group };
    for (const name of names) {
      const found = profiles.get(name)!.groups.find((g) => g.group === group);
      row[name] = found ? `${formatRatio(found.share)}` : '—';
    }
    return row;
  });
  const edge = profiles.get('edge')!;
  const topRows = edge.top.map(
    (item, i): Row => ({
      '#': String(i + 1),
      function: item.fn,
      where: item.where || '—',
      'self time': `${item.selfMs.toFixed(0)} ms`,
      share: formatRatio(item.share),
    }),
  );
  return [
    {
      title:
        `Where each node server's CPU time goes: share of the busy samples (idle left out) of a ${PROFILE_SEC} s wrk load window ` +
        `(inspector CPU profile, 100 µs sampling, after the measured rounds; busy ${names.map((name) => `${name} ${formatRatio(profiles.get(name)!.busyMs / profiles.get(name)!.totalMs)}`).join(', ')} of the window)`,
      rows: groupRows,
    },
    { title: `The edge HIT's top ${edge.top.length} functions by self time (same window; ${edge.busyMs.toFixed(0)} ms busy)`, rows: topRows },
  ];
}
