import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { ConfigInput, RegionInput } from '../../packages/freshcache-server/src/config.js';
import type { PostgresServer } from '../../packages/freshcache-server/src/tools/local-postgres.js';
import { startPostgres } from '../../packages/freshcache-server/src/tools/local-postgres.js';
import type { RedisServer } from '../../packages/freshcache-server/src/tools/local-redis.js';
import { startRedis } from '../../packages/freshcache-server/src/tools/local-redis.js';
import type { ServeProcess } from '../../packages/freshcache-server/src/tools/serve-process.js';
import { spawnServe, stopServe } from '../../packages/freshcache-server/src/tools/serve-process.js';
import { serverSentEvents } from '../../packages/freshcache-server/src/tools/server-sent-events.js';
import { freePort } from './free-port.js';

/** Node processes run the TypeScript sources through tsx: the tests never depend on a build. */
const ENTRY = ['--conditions=freshcache-source', '--import', 'tsx', resolve(import.meta.dirname, '../../packages/freshcache-server/src/cli/main.ts')];

export interface DeploymentOptions {
  regions: RegionInput[];
  nodesPerRegion: number;
  /** Relay candidates (each also serves the API); one leads, the others stand by. */
  relays: number;
  capture: 'wal' | 'outbox';
}

/**
 * A real multi-process freshcache: its own redis-server (append-only) and PostgreSQL on free
 * ports, relay candidates and node processes started with `freshcache serve`, as `up` does.
 * `stop()` stops every process and server and deletes the folders.
 */
export class Deployment {
  readonly relays: ServeProcess[] = [];
  readonly nodes: ServeProcess[] = [];
  /** stderr of every process, for a failing test's message. */
  readonly stderr: string[] = [];
  private constructor(
    readonly redis: RedisServer,
    readonly postgres: PostgresServer,
    readonly sql: pg.Pool,
    private readonly dir: string,
    private readonly config: string,
  ) {}

  static async start(options: DeploymentOptions): Promise<Deployment> {
    const dir = await mkdtemp(join(tmpdir(), 'freshcache-deployment-'));
    const redis = await startRedis({ durable: true });
    const postgres = await startPostgres();
    const config: ConfigInput = {
      regions: options.regions,
      origin: { kind: 'postgres', url: postgres.url },
      capture: { kind: options.capture },
      demo: true,
      relay: { pollMs: 200, electionMs: 200 },
      log: { kind: 'redis', redis: { url: redis.url } },
      l2: { kind: 'redis', redis: { url: redis.url } },
      seed: false,
    };
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify(config));
    const deployment = new Deployment(redis, postgres, new pg.Pool({ connectionString: postgres.url, max: 4 }), dir, file);
    deployment.sql.on('error', () => {}); // a restart of Postgres in a fault test
    try {
      // The first relay creates the schema (and the slot) before anyone else needs them.
      for (let i = 1; i <= options.relays; i++) await deployment.startProcess(`relay-${i}`, 'relay');
      await Promise.all(
        options.regions.flatMap((region) =>
          Array.from({ length: options.nodesPerRegion }, (_, i) => deployment.startProcess(`${region.name}-${i + 1}`, region.name)),
        ),
      );
    } catch (error) {
      await deployment.stop();
      throw error;
    }
    return deployment;
  }

  /** Starts (or starts again, after a kill) a process with these roles. */
  async startProcess(name: string, roles: string): Promise<ServeProcess> {
    const node = await spawnServe({
      name,
      entry: ENTRY,
      config: this.config,
      env: { FRESHCACHE_ROLES: roles, FRESHCACHE_PORT: String(await freePort()), FRESHCACHE_NODE_ID: name, FRESHCACHE_LOG_LEVEL: 'warn' },
      onStderr: (text) => this.stderr.push(`[${name}] ${text}`),
    });
    const list = roles === 'relay' ? this.relays : this.nodes;
    const index = list.findIndex((p) => p.name === name);
    if (index >= 0) list[index] = node;
    else list.push(node);
    return node;
  }

  /**
   * Rejects as soon as one of the deployment's current processes exits (or at once if one has):
   * race it against a wait, so that a crash fails the test with the process's name, not a timeout.
   */
  anyExit(): Promise<never> {
    const exited = new Promise<never>((_, reject) => {
      for (const process of [...this.relays, ...this.nodes]) {
        const fail = () => reject(new Error(`${process.name} exited (${process.child.signalCode ?? process.child.exitCode})`));
        if (process.child.exitCode !== null || process.child.signalCode !== null) fail();
        else process.child.once('exit', fail);
      }
    });
    // stop() makes every process exit, long after the race that used this promise settled.
    exited.catch(() => {});
    return exited;
  }

  nodesOf(region: string): ServeProcess[] {
    return this.nodes.filter((node) => node.name.startsWith(`${region}-`));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.relays, ...this.nodes].map((node) => stopServe(node, 3_000)));
    await this.sql.end().catch(() => {});
    await this.postgres.stop();
    await this.redis.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A server-sent events stream: `next` resolves with the first event since it opened that matches. */
export async function openEvents(url: string) {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  if (!response.ok || !response.body) throw new Error(`GET ${url}: ${response.status}`);
  const events: { name: string; data: unknown }[] = [];
  let waiters: (() => void)[] = [];
  let ended = false;
  const reading = (async () => {
    for await (const { name, data } of serverSentEvents(response.body as AsyncIterable<Uint8Array>)) {
      events.push({ name, data: JSON.parse(data) });
      for (const wake of waiters.splice(0)) wake();
    }
  })()
    .catch(() => {})
    .finally(() => {
      ended = true;
      for (const wake of waiters.splice(0)) wake();
    });
  return {
    events,
    async next<T>(name: string, test: (data: T) => boolean): Promise<T> {
      for (let seen = 0; ; ) {
        for (; seen < events.length; seen++) {
          const event = events[seen]!;
          if (event.name === name && test(event.data as T)) return event.data as T;
        }
        // A stream the server ended can bring nothing more: fail now instead of hanging.
        if (ended) throw new Error(`${url} ended before a "${name}" event that matches`);
        await new Promise<void>((wake) => waiters.push(wake));
      }
    },
    async close() {
      controller.abort();
      await reading;
      waiters = [];
    },
  };
}
