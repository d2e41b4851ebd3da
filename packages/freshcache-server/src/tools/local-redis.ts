import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { freePort } from './free-port.js';

export interface RedisServerOptions {
  /**
   * Start in cluster mode, with its nodes.conf in the server's temp folder. The cluster bus
   * listens on port + 10000, so that port must be free too.
   */
  cluster?: boolean;
  /**
   * Cluster mode only: how long a node may be unreachable before the others mark it failed and
   * its replica takes over (Redis's `cluster-node-timeout`; default 2000 ms, Redis's own is 15 s).
   */
  clusterNodeTimeoutMs?: number;
  /**
   * Keep data across a restart: append-only file, fsync on every write. The invalidation log
   * needs it: a log that loses its tail on restart would reuse ids nodes already hold.
   */
  durable?: boolean;
  /** Where the server keeps its files (default: a new temp folder, deleted by `stop`). */
  dir?: string;
  /**
   * Run it in a process group of its own, out of reach of the terminal's Ctrl-C (`freshcache
   * up`, which stops its children itself, in order).
   */
  detached?: boolean;
}

export interface RedisServer {
  host: string;
  port: number;
  url: string;
  /** Its folder. */
  dir: string;
  /** The current server process's pid. */
  readonly pid: number;
  /** Resolves when the current server process exits (killed, crashed or stopped). */
  exited(): Promise<void>;
  /** SIGKILL, as a crash would: no shutdown, clients see the connection drop. The folder stays. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and folder (after `kill`), and waits until it is ready. */
  restart(): Promise<void>;
  /** SIGSTOP: the process freezes with its connections open, so commands hang instead of failing. */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** Kills the server and deletes its folder. */
  stop(): Promise<void>;
}

type RedisProcess = ChildProcessByStdio<null, Readable, Readable>;

const HOST = '127.0.0.1';
/** Another process may take a port between our check and the server's bind: try another one. */
const BIND_ATTEMPTS = 5;

/**
 * A redis-server of our own on a free port in a temp folder (tests, `freshcache up`), without
 * persistence unless `durable`; `stop()` kills it and deletes the folder. Never the machine's own
 * Redis on 6379.
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'freshcache-redis-')));
  let child: RedisProcess | undefined;
  let port = 0;
  try {
    for (let attempt = 1; child === undefined; attempt++) {
      port = options.cluster ? await freePortWithBus() : await freePort();
      try {
        child = await spawnRedis(port, dir, options);
      } catch (error) {
        if (!(error instanceof PortTakenError) || attempt === BIND_ATTEMPTS) throw error;
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  let current: RedisProcess = child;
  const kill = async () => {
    if (current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill('SIGKILL');
    await exited;
  };
  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    dir,
    get pid() {
      return current.pid!;
    },
    exited: () => {
      const running = current;
      if (running.exitCode !== null || running.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => running.once('exit', () => resolve()));
    },
    kill,
    restart: async () => {
      await kill();
      current = await spawnRedis(port, dir, options);
    },
    pause: () => void current.kill('SIGSTOP'),
    resume: () => void current.kill('SIGCONT'),
    stop: async () => {
      // SIGKILL also ends a paused (SIGSTOPped) process.
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

class PortTakenError extends Error {}

async function spawnRedis(port: number, dir: string, options: RedisServerOptions): Promise<RedisProcess> {
  const persistence = options.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const args = ['--port', String(port), '--bind', HOST, '--save', '', ...persistence, '--dir', dir];
  if (options.cluster) {
    const nodeTimeout = String(options.clusterNodeTimeoutMs ?? 2_000);
    // Full coverage off: with it on, once a primary is marked failed every slot answers
    // CLUSTERDOWN until its replica is promoted, not only the failed primary's.
    args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', nodeTimeout, '--cluster-require-full-coverage', 'no');
    // A replica's full sync starts at once: by default a primary waits 5 s for more replicas to
    // share the transfer, and every new or restarted replica (and every failover) waited for it.
    args.push('--repl-diskless-sync-delay', '0');
  }
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      // Only the start-up output is kept, for the error message; the rest is drained and dropped.
      if (output.length < 64_000) output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null) => {
      if (output.includes('Address already in use')) reject(new PortTakenError(`port ${port} is taken`));
      else reject(new Error(`redis-server exited with ${code}: ${output}`));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', onExit);
    child.once('error', (error) => reject(new Error(`cannot start redis-server (${error.message}): apt-get install -y redis-server`)));
  });
  return child;
}

/** A free port whose cluster-bus port (port + 10000) is free as well. */
async function freePortWithBus(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && (await isPortFree(port + 10_000))) return port;
  }
  throw new Error('found no free port whose cluster-bus port (port + 10000) is free too');
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}
