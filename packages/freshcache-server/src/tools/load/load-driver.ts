import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { zipfSampler } from '../zipf.js';
import { FreshnessChecker } from './freshness-checker.js';
import { LoadStats } from './load-stats.js';
import type { Tally } from './load-stats.js';
import type { ReadTarget } from './load-targets.js';
import { errorCode, statusCode } from './load-writer.js';
import type { LoadWriter } from './load-writer.js';

/**
 * The HTTP client is undici's Pool, driven through `dispatch` with a handler object: no stream,
 * no promise and no header object copy per request, keep-alive connections, and the headers read
 * where they arrive. It is the client Node's own fetch is built on, kept by the Node project;
 * autocannon's client is not a public API, and fetch costs several times more CPU per request.
 * bench `load-tester-throughput` measures it against a bare node:http server.
 */

/** Open model: requests arrive at a constant rate, whatever the answers take. Closed: N loops, each sends when its last answer came. */
export type LoadModel = { kind: 'open'; rate: number; connections: number } | { kind: 'closed'; connections: number };

export interface LoadPlan {
  targets: ReadTarget[];
  /** The keys, hottest first (Zipf rank 1 is ids[0]). */
  ids: number[];
  /** Zipf exponent of the key popularity (0: uniform). */
  zipf: number;
  /** Share of requests that are reads; the rest are writes (none without a writer). */
  readRatio: number;
  model: LoadModel;
  durationMs: number;
  writer?: LoadWriter;
  /** Each region's delay (ms) and the margin on top of it: the freshness bound. */
  delays: ReadonlyMap<string, number>;
  marginMs: number;
}

export interface LoadRunOptions {
  /** Ends the run early (Ctrl-C): the report covers what ran. */
  signal?: AbortSignal;
  intervalMs?: number;
  /** Called every interval with the interval's tallies, before they are added to the totals. */
  onInterval?: (stats: LoadStats, elapsedMs: number) => void;
}

export interface LoadRun {
  stats: LoadStats;
  freshness: FreshnessChecker;
  /** How long requests were started for. */
  elapsedMs: number;
  /** Requests still unanswered after the drain (not counted). */
  abandoned: number;
  /** This process's CPU time (user + system) while requests were started: near elapsedMs, the client was the limit. */
  cpuMs: number;
}

/** How long answers in flight at the end are waited for. */
const DRAIN_MS = 10_000;
const TIMEOUT_MS = 10_000;
/** The largest error body read to find its `{ error: { code } }`. */
const ERROR_BODY_BYTES = 4_096;

const now = () => performance.now();

/** One read in flight: undici's handler, recording the answer where it arrives. */
class ReadRequest implements Dispatcher.DispatchHandler {
  private status = 0;
  private cache: string | undefined;
  private version: string | undefined;
  private errorBody: Buffer[] | undefined;
  private sentAt = 0;

  constructor(
    private readonly run: Runner,
    private readonly region: string,
    private readonly tally: Tally,
    private readonly id: number,
    /** When the request was due: the open model measures latency from there (no coordinated omission). */
    private readonly dueAt: number,
    private readonly done: () => void,
  ) {}

  onRequestStart(): void {
    this.sentAt = now();
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = statusCode;
    const cache = headers['x-cache'];
    const version = headers['x-cache-version'];
    this.cache = typeof cache === 'string' ? cache : undefined;
    this.version = typeof version === 'string' ? version : undefined;
    if (statusCode >= 400) this.errorBody = [];
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.errorBody && this.errorBody.length < 4) this.errorBody.push(chunk);
  }

  onResponseEnd(): void {
    const tally = this.tally;
    tally.latencyUs.recordValue(Math.max(1, Math.round((now() - this.dueAt) * 1000)));
    if (this.status >= 200 && this.status < 300) {
      tally.ok++;
      if (this.cache === 'HIT') tally.hits++;
      else if (this.cache === 'MISS') tally.misses++;
      else if (this.cache === 'STALE') tally.staleAnswers++;
      const version = this.version === undefined ? NaN : Number(this.version);
      if (!Number.isFinite(version)) tally.unversioned++;
      // An answer the server itself marks STALE (stale-while-revalidate) is not judged: it says so.
      else if (this.cache !== 'STALE') this.run.freshness.recordRead({ key: this.id, version, sentAt: this.sentAt || this.dueAt, region: this.region });
    } else tally.fail(statusCode(this.status, errorBodyCode(this.errorBody)));
    this.done();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.tally.fail(errorCode(error));
    this.done();
  }
}

function errorBodyCode(chunks: Buffer[] | undefined): string | undefined {
  if (!chunks?.length) return undefined;
  try {
    const code = (JSON.parse(Buffer.concat(chunks).subarray(0, ERROR_BODY_BYTES).toString()) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

class Runner {
  readonly stats: LoadStats;
  readonly freshness: FreshnessChecker;
  inFlight = 0;
  private readonly pools = new Map<string, Pool>();
  private readonly pick: () => number;
  private readonly paths: { region: string; pool: Pool; before: string; after: string }[];
  private next = 0;
  private writes = 0;
  private drained: (() => void) | undefined;

  constructor(private readonly plan: LoadPlan) {
    if (plan.targets.length === 0) throw new Error('no target to read');
    if (plan.ids.length === 0) throw new Error('no key to read');
    this.stats = new LoadStats(plan.targets.map((t) => t.region));
    this.freshness = new FreshnessChecker(plan.delays, plan.marginMs);
    this.pick = zipfSampler(plan.ids.length, plan.zipf);
    this.paths = plan.targets.map((target) => {
      let pool = this.pools.get(target.origin);
      if (!pool) {
        pool = new Pool(target.origin, { connections: plan.model.connections, pipelining: 1, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
        this.pools.set(target.origin, pool);
      }
      const [before, after = ''] = target.pathTemplate.split('{id}', 2) as [string, string?];
      return { region: target.region, pool, before, after };
    });
  }

  /** Starts one request (a read, or a write by the read ratio); `done` runs when it is over. */
  issue(dueAt: number, done: () => void): void {
    this.inFlight++;
    const finish = () => {
      this.inFlight--;
      done();
      if (this.inFlight === 0) this.drained?.();
    };
    const id = this.plan.ids[this.pick() - 1]!;
    const writer = this.plan.writer;
    if (writer && Math.random() >= this.plan.readRatio) {
      const tally = this.stats.writes.interval;
      writer.write(id, ++this.writes).then(
        (version) => {
          const at = now();
          this.freshness.recordWrite(id, version, at);
          tally.latencyUs.recordValue(Math.max(1, Math.round((at - dueAt) * 1000)));
          tally.ok++;
          finish();
        },
        (error: unknown) => {
          this.stats.writes.interval.fail(errorCode(error));
          finish();
        },
      );
      return;
    }
    const path = this.paths[this.next++ % this.paths.length]!;
    const tally = this.stats.region(path.region).interval;
    path.pool.dispatch({ method: 'GET', path: path.before + id + path.after }, new ReadRequest(this, path.region, tally, id, dueAt, finish));
  }

  /**
   * One uncounted read per target before the clock starts: it opens a connection and has undici
   * compile its HTTP parser, which would otherwise stall the first few hundred ms of the run (an
   * open model then counts the backlog as latency).
   */
  async warmUp(): Promise<void> {
    const id = this.plan.ids[0]!;
    await Promise.all(
      this.paths.map(({ pool, before, after }) =>
        pool.request({ method: 'GET', path: before + id + after }).then(
          (response) => response.body.dump(),
          () => {}, // a target that is down fails its reads in the run, where they are counted
        ),
      ),
    );
  }

  /** Resolves once nothing is in flight, or after `ms`. */
  async drain(ms: number): Promise<void> {
    if (this.inFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.drained = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.destroy()));
    await this.plan.writer?.close();
  }
}

/** Runs a load for the plan's duration (or until `signal`), judging every read's freshness as it completes. */
export async function runLoad(plan: LoadPlan, options: LoadRunOptions = {}): Promise<LoadRun> {
  const runner = new Runner(plan);
  await runner.warmUp();
  const intervalMs = options.intervalMs ?? 1_000;
  const startedAt = now();
  const cpuAtStart = process.cpuUsage();
  let running = true;
  let finished: () => void = () => {};
  const over = new Promise<void>((resolve) => (finished = resolve));
  const stop = () => {
    if (!running) return;
    running = false;
    finished();
  };
  const stopTimer = setTimeout(stop, plan.durationMs);
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) stop();
  const progress = setInterval(() => {
    options.onInterval?.(runner.stats, now() - startedAt);
    runner.stats.roll();
  }, intervalMs);

  let pacer: NodeJS.Timeout | undefined;
  const model = plan.model;
  if (model.kind === 'closed') {
    const loop = () => {
      if (running) runner.issue(now(), loop);
    };
    for (let i = 0; i < model.connections; i++) loop();
  } else {
    // Each request is due at startedAt + n / rate; a 1 ms tick starts every request due by then.
    // Beyond a second's worth in flight the client or the target is the limit: those are dropped and counted.
    const maxInFlight = Math.max(1_000, model.rate);
    const perMs = model.rate / 1_000;
    let issued = 0;
    const noop = () => {};
    const tick = () => {
      if (!running) return;
      const due = Math.floor((now() - startedAt) * perMs);
      for (; issued < due; issued++) {
        if (runner.inFlight >= maxInFlight) {
          runner.stats.dropped += due - issued;
          issued = due;
          break;
        }
        runner.issue(startedAt + issued / perMs, noop);
      }
      pacer = setTimeout(tick, 1);
    };
    tick();
  }

  await over;
  const elapsedMs = now() - startedAt;
  const cpu = process.cpuUsage(cpuAtStart);
  clearTimeout(stopTimer);
  clearTimeout(pacer);
  await runner.drain(DRAIN_MS);
  clearInterval(progress);
  const abandoned = runner.inFlight;
  await runner.close();
  runner.stats.roll();
  return { stats: runner.stats, freshness: runner.freshness, elapsedMs, abandoned, cpuMs: (cpu.user + cpu.system) / 1000 };
}
