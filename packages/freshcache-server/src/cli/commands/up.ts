import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { ConfigInput } from '../../config.js';
import { DEFAULT_REGIONS } from '../../config.js';
import { freePort } from '../../tools/free-port.js';
import { findNginx, NGINX_INSTALL_HINT, startNginx } from '../../tools/local-nginx.js';
import { postgresBinaries, startPostgres } from '../../tools/local-postgres.js';
import type { PostgresServer } from '../../tools/local-postgres.js';
import { startRedis } from '../../tools/local-redis.js';
import type { RedisServer } from '../../tools/local-redis.js';
import { startRedisCluster, startRedisClusterNode } from '../../tools/local-redis-cluster.js';
import type { LocalRedisCluster, RedisClusterOptions } from '../../tools/local-redis-cluster.js';
import { nginxConfig } from '../../tools/nginx-config.js';
import { spawnServe, stopServe } from '../../tools/serve-process.js';
import type { ServeProcess } from '../../tools/serve-process.js';
import { Supervisor, UnknownServiceError } from '../../tools/supervisor.js';
import type { Running } from '../../tools/supervisor.js';
import { RedisNodeInUseError, startUpControl } from '../../tools/up-control.js';
import type { UpRedisNodes } from '../../tools/up-control.js';
import { startWatchdog } from '../../tools/watchdog.js';
import { untilSignal } from '../until-signal.js';

export const upHelp = `freshcache up [--nodes N] [--capture wal|outbox] [--redis standalone|cluster [--replicas N]] [--port N]

Starts a real local topology, keeps it running, and stops all of it on Ctrl-C: a redis-server
(append-only, for the invalidation log and each region's shared L2), or a Redis Cluster with
--redis cluster, and a PostgreSQL (initdb in a temp folder), all on free ports; a control
process (HTTP API, relay candidate, seeds sample content); N node processes per region
(us-east, eu-west, ap-south); and nginx in front of each region's nodes (one URL per region,
round-robin, a failed read retried on the next node).

A child that dies (a node, the control process, redis-server, PostgreSQL or nginx) is started
again with backoff, on the same port, while the rest keep serving. If up itself is killed, even
with kill -9, a watchdog stops everything it started. \`freshcache chaos\` kills, restarts,
pauses or resumes a child on purpose; up prints the state file it needs.

  --nodes N        node processes per region (default 1)
  --capture KIND   change capture: wal (logical replication, default) or outbox
  --redis KIND     standalone (one redis-server, default) or cluster: a Redis Cluster of 3
                   primaries (cluster-node-timeout 2 s, cluster-require-full-coverage no) for
                   the L2 and the log (the log's keys share one hash slot). Each node is a
                   process named redis-PORT (a name that a failover does not change); up
                   prints each with its role and slots, and chaos targets each. A node that
                   dies is started again after 5 s: a killed primary's replica takes over
                   first, and the old primary rejoins as its replica. \`freshcache cluster
                   add-node\` (no address) has up start one more primary, supervised the same
                   way, and \`remove-node\` has up stop one once its slots moved away
  --replicas N     with --redis cluster: replicas of each primary (default 1, 0..4)
  --port N         port of the control process (default 3000; nodes and nginx take free ports)

Without nginx (Debian: apt-get install -y nginx-light) it prints the nodes' own URLs only.
FRESHCACHE_NGINX names the nginx binary to use.`;

/** A dead Redis Cluster node restarts after this: past the node timeout (2 s) and an election. */
const CLUSTER_RESTART_DELAY_MS = 5_000;

/** Where `freshcache chaos` looks for the running `up` by default. */
export const UP_STATE_FILE = join(homedir(), '.freshcache', 'up.json');

export interface UpState {
  pid: number;
  /** up's own control endpoint (see up-control.ts) and its bearer token. */
  url: string;
  token: string;
  dir: string;
  services: string[];
}

export async function up(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '1' },
      capture: { type: 'string', default: 'wal' },
      redis: { type: 'string', default: 'standalone' },
      replicas: { type: 'string' },
      port: { type: 'string', default: '3000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(upHelp);
    return;
  }
  const nodes = Number(values.nodes);
  const port = Number(values.port);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 8) throw new Error(`--nodes must be 1..8, got ${values.nodes}`);
  if (values.capture !== 'wal' && values.capture !== 'outbox') throw new Error(`--capture must be wal or outbox, got ${values.capture}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port}`);
  if (values.redis !== 'standalone' && values.redis !== 'cluster') throw new Error(`--redis must be standalone or cluster, got ${values.redis}`);
  if (values.replicas !== undefined && values.redis !== 'cluster') throw new Error('--replicas goes with --redis cluster');
  const replicas = Number(values.replicas ?? 1);
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 4) throw new Error(`--replicas must be 0..4, got ${values.replicas}`);
  await checkBinaries();
  const nginx = findNginx();

  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(`  ${(error as Error).message}`));
  };
  // Listening from the first step: a Ctrl-C during initdb or while nodes start must still stop
  // what was started, not kill this process and leave PostgreSQL and Redis running.
  const signalled = untilSignal();
  let interrupted = false;
  void signalled.then(() => (interrupted = true));
  const stopIfInterrupted = () => {
    if (interrupted) throw new Error('interrupted');
  };
  // Every child runs in a process group of its own (the terminal's Ctrl-C reaches only up, which
  // stops them in order) and is registered with the watchdog, which kills them if up dies.
  const watchdog = startWatchdog();
  cleanups.push(() => watchdog.close());
  const supervisor = new Supervisor(watchdog, (line) => console.error(`[up] ${line}`));
  try {
    const dir = await mkdtemp(join(tmpdir(), 'freshcache-up-'));
    watchdog.removeOnExit(dir);
    cleanups.push(() => rm(dir, { recursive: true, force: true }));

    // Each redis-server a supervised child of its own. The first start is startRedis's; a restart
    // keeps the port, the append-only file and (in a cluster) nodes.conf, so the node rejoins.
    const superviseRedis = (name: string, server: RedisServer, minRestartDelayMs?: number) => {
      let starts = 0;
      return supervisor.add({
        name,
        minRestartDelayMs,
        start: async () => {
          if (starts++ > 0) await server.restart();
          return { pid: server.pid, exited: server.exited() };
        },
        // SIGTERM: Redis flushes its append-only file and exits.
        stop: stopProcess,
      });
    };
    let redisTarget: { url: string } | { cluster: { host: string; port: number }[] };
    let redisLines: string;
    let redisNodes: UpRedisNodes | undefined;
    if (values.redis === 'cluster') {
      process.stdout.write(`Starting a Redis Cluster (3 primaries, ${replicas} replica${replicas === 1 ? '' : 's'} each)… `);
      const nodeOptions: RedisClusterOptions = {
        durable: true,
        detached: true,
        // Watched from its start: a SIGKILL of up while the cluster forms must not leave it running.
        onNodeStarted: (server) => {
          watchdog.watch(server.pid);
          watchdog.removeOnExit(server.dir);
        },
      };
      const cluster = await startRedisCluster({ ...nodeOptions, primaries: 3, replicas });
      cleanups.push(() => cluster.stop());
      // A killed node stays down past the node timeout (2 s) and an election: a primary's replica
      // takes over, and the old primary comes back as its replica, as after a real crash.
      for (const node of cluster.nodes) await superviseRedis(node.name, node.server, CLUSTER_RESTART_DELAY_MS);
      stopIfInterrupted();
      redisNodes = clusterNodes(cluster, nodeOptions, {
        supervise: (name, server) => superviseRedis(name, server, CLUSTER_RESTART_DELAY_MS),
        unsupervise: (name) => supervisor.remove(name),
        cleanups,
        log: (line) => console.error(`[up] ${line}`),
      });
      console.log(`${cluster.nodes.length} nodes`);
      redisTarget = { cluster: cluster.seeds };
      redisLines = clusterLines(cluster);
    } else {
      process.stdout.write('Starting redis-server… ');
      const redis = await startRedis({ durable: true, detached: true });
      watchdog.removeOnExit(redis.dir);
      cleanups.push(() => redis.stop());
      await superviseRedis('redis', redis);
      stopIfInterrupted();
      console.log(redis.url);
      redisTarget = { url: redis.url };
      redisLines = `  redis                 ${redis.url}`;
    }

    process.stdout.write('Starting PostgreSQL (initdb)… ');
    const postgres = await startPostgres();
    watchdog.removeOnExit(postgres.dir);
    cleanups.push(() => postgres.stop());
    let postgresStarts = 0;
    await supervisor.add({
      name: 'postgres',
      start: async () => {
        // After a crash: wait for its backends to go and clear its lock files, then recover.
        if (postgresStarts++ > 0) {
          await postgres.kill();
          await postgres.start();
        }
        return postgresRunning(postgres);
      },
      // SIGQUIT is PostgreSQL's immediate shutdown (pg_ctl -m immediate): backends and shared memory go with it.
      stop: async (running) => {
        process.kill(running.pid, 'SIGQUIT');
        await running.exited;
      },
      watchdogSignal: 'QUIT',
      pauseChildren: true,
    });
    stopIfInterrupted();
    console.log(postgres.url.replace(/^postgres:\/\/[^@]*@/, 'postgres://'));

    const shared: ConfigInput = {
      origin: { kind: 'postgres', url: postgres.url },
      capture: values.capture === 'wal' ? { kind: 'wal' } : { kind: 'outbox' },
      demo: true, // the demo's own database: up creates it
      log: { kind: 'redis', redis: redisTarget },
      l2: { kind: 'redis', redis: redisTarget },
    };
    // up's own endpoint for chaos actions: `freshcache chaos`, and the control process's /api/chaos.
    const control = await startUpControl(supervisor, redisNodes);
    cleanups.push(() => control.close());
    const controlConfig = join(dir, 'control.json');
    const nodeConfig = join(dir, 'node.json');
    await writeFile(controlConfig, JSON.stringify({ ...shared, seed: true }, null, 2));
    // Behind nginx, a node sees nginx's address: it trusts X-Forwarded-For from loopback only.
    await writeFile(nodeConfig, JSON.stringify({ ...shared, seed: false, ...(nginx ? { trustProxy: ['127.0.0.1'] } : {}) }, null, 2));

    // The same entry point this process runs (dist/cli/main.js, or src under tsx).
    const entry = [...process.execArgv, process.argv[1]!];
    const urls = new Map<string, string>();
    const serve = (name: string, config: string, servePort: number, roles: string, extraEnv: Record<string, string> = {}) => {
      let current: ServeProcess | undefined;
      return supervisor.add({
        name,
        start: async () => {
          current = await spawnServe({
            name,
            entry,
            config,
            env: { FRESHCACHE_ROLES: roles, FRESHCACHE_PORT: String(servePort), FRESHCACHE_NODE_ID: name, ...extraEnv },
            onStderr: (text) => process.stderr.write(`[${name}] ${text}`),
            detached: true,
          });
          urls.set(name, current.url);
          const child = current.child;
          const exited = new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) resolve();
            else child.once('exit', () => resolve());
          });
          return { pid: child.pid!, exited };
        },
        stop: () => (current ? stopServe(current) : Promise.resolve()),
      });
    };
    // Fixed ports, so that a restarted node comes back where nginx (and the user) expect it.
    await serve('control', controlConfig, port === 0 ? await freePort() : port, 'relay', { FRESHCACHE_UP_CONTROL: control.url, FRESHCACHE_UP_TOKEN: control.token });
    stopIfInterrupted();
    const regions = await Promise.all(
      DEFAULT_REGIONS.map(async (region) => ({
        name: region.name,
        port: await freePort(),
        nodes: await Promise.all(Array.from({ length: nodes }, async (_, i) => ({ name: `${region.name}-${i + 1}`, port: await freePort() }))),
      })),
    );
    // All settle before going on, so that a node that fails never leaves a sibling unstopped.
    const launches = await Promise.allSettled(regions.flatMap((region) => region.nodes.map((node) => serve(node.name, nodeConfig, node.port, region.name))));
    const failed = launches.find((launched) => launched.status === 'rejected');
    if (failed) throw failed.reason;
    stopIfInterrupted();

    if (nginx) {
      const config = join(dir, 'nginx.conf');
      await writeFile(
        config,
        nginxConfig({ dir, asRoot: process.getuid?.() === 0, regions: regions.map((r) => ({ name: r.name, port: r.port, nodePorts: r.nodes.map((n) => n.port) })) }),
      );
      await supervisor.add({ name: 'nginx', start: () => startNginx(nginx, dir, config, regions[0]!.port), stop: stopProcess });
      stopIfInterrupted();
    }

    const state: UpState = { pid: process.pid, url: control.url, token: control.token, dir, services: supervisor.status().map((s) => s.name) };
    const stateFile = join(dir, 'up.json');
    await writeFile(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
    await publishState(state);
    cleanups.push(() => unpublishState());

    const controlUrl = urls.get('control')!;
    const regionLines = regions.map((region) => {
      const example = `/edge/${region.name}/content/1`;
      const front = nginx ? `  ${`${region.name} (nginx)`.padEnd(20)}  http://127.0.0.1:${region.port}   e.g. http://127.0.0.1:${region.port}${example}\n` : '';
      return front + region.nodes.map((node) => `    ${node.name.padEnd(18)}  ${urls.get(node.name)}${nginx ? '' : `   e.g. ${urls.get(node.name)}${example}`}`).join('\n');
    });
    console.log(`
freshcache is up: ${supervisor.status().length} processes on ${values.redis === 'cluster' ? 'a Redis Cluster' : 'Redis'} and PostgreSQL (${values.capture} capture)${nginx ? ', nginx in front of each region' : ''}.
  control (API, relay)  ${controlUrl}   docs ${controlUrl}/docs
${regionLines.join('\n')}
${redisLines}
  postgres              ${postgres.url}
${nginx ? '' : `\n${NGINX_INSTALL_HINT}\n`}
A process that dies is started again. Break one on purpose:
  freshcache chaos kill|restart|pause|resume <${state.services.join('|')}> --state ${stateFile}

Edit content through the control process (PUT ${controlUrl}/api/content/1) or straight in SQL
(psql ${postgres.url} -c "UPDATE content SET title = 'psql' WHERE id = 1"),
and read it through any ${nginx ? 'region or ' : ''}node. Ctrl-C stops everything.`);
    await signalled;
  } finally {
    // A second Ctrl-C (or the terminal signalling the whole group) must not cut the clean-up
    // short and leave PostgreSQL or Redis running.
    const patience = () => console.log('  still stopping…');
    process.on('SIGINT', patience);
    process.on('SIGTERM', patience);
    console.log('\nStopping…');
    // The children first, the last started first; then their folders, and the watchdog last.
    await supervisor.stopAll();
    await stopAll();
    console.log('Stopped.');
  }
}

/** The cluster's nodes as up prints them: each with its URL, and its role and slots when the cluster formed. */
function clusterLines(cluster: LocalRedisCluster): string {
  const lines = cluster.nodes.map((node) => {
    const role = node.role === 'primary' ? `primary, slots ${node.slots.map(([first, last]) => `${first}-${last}`).join(' ')}` : `replica of ${node.replicaOf}`;
    return `    ${node.name.padEnd(18)}  ${node.server.url}   ${role}`;
  });
  return ['  redis cluster         (roles as formed; a failover changes them: freshcache chaos list, GET /api/nodes)', ...lines].join('\n');
}

/**
 * Redis nodes that up starts and stops on request (`freshcache cluster add-node|remove-node`
 * through up's endpoint): the same settings as the cluster's own nodes, each supervised as
 * redis-PORT. Up only starts and stops servers; joining and moving slots is the asker's.
 */
function clusterNodes(
  cluster: LocalRedisCluster,
  options: RedisClusterOptions,
  up: {
    supervise: (name: string, server: RedisServer) => Promise<void>;
    unsupervise: (name: string) => Promise<void>;
    cleanups: (() => Promise<void>)[];
    log: (line: string) => void;
  },
): UpRedisNodes {
  const servers = new Map(cluster.nodes.map((node) => [node.name, node.server]));
  const added = new Set<RedisServer>();
  up.cleanups.push(async () => {
    await Promise.all([...added].map((server) => server.stop()));
  });
  // One start at a time: two free-port picks at once could choose each other's bus port (port + 10000).
  let starting: Promise<unknown> = Promise.resolve();
  return {
    add: () => {
      const started = starting.then(async () => {
        const server = await startRedisClusterNode(options);
        added.add(server);
        const name = `redis-${server.port}`;
        servers.set(name, server);
        await up.supervise(name, server);
        up.log(`${name} started: a new Redis Cluster node, ${server.url}`);
        return { name, host: server.host, port: server.port };
      });
      starting = started.catch(() => {});
      return started;
    },
    remove: async (name) => {
      const server = servers.get(name);
      if (!server) throw new UnknownServiceError(`no Redis node named "${name}" in this freshcache up`);
      // Only a node that left: one that still knows the others holds slots or replicates some.
      const known = await knownNodes(server).catch(() => undefined);
      if (known !== 1) {
        throw new RedisNodeInUseError(
          known === undefined ? `${name} does not answer: cannot tell whether it left the cluster` : `${name} still belongs to the Redis Cluster (it knows ${known} nodes): remove it with freshcache cluster remove-node first`,
        );
      }
      servers.delete(name);
      await up.unsupervise(name);
      await server.stop();
      added.delete(server);
      up.log(`${name} stopped: it left the Redis Cluster`);
    },
  };
}

/** CLUSTER INFO's cluster_known_nodes of one node (1: itself alone). */
async function knownNodes(server: RedisServer): Promise<number> {
  const client = new Redis(server.port, server.host, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2_000, commandTimeout: 2_000, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return Number(/cluster_known_nodes:(\d+)/.exec(String(await client.call('CLUSTER', 'INFO')))?.[1]);
  } finally {
    client.disconnect();
  }
}

/** The postmaster as a supervised process: pg_ctl detaches it, so its exit is seen in /proc. */
async function postgresRunning(postgres: PostgresServer): Promise<Running> {
  const pid = await postgres.pid();
  const exited = (async () => {
    // Not our child: no exit event. Looking every 250 ms bounds how late a crash is noticed.
    while (await isRunning(pid)) await new Promise((resolve) => setTimeout(resolve, 250));
  })();
  return { pid, exited };
}

/** Alive and not a zombie (a container's init may not reap an orphan). */
async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** SIGTERM to a process group, and SIGKILL after 5 s. */
async function stopProcess(running: Running): Promise<void> {
  const send = (signal: NodeJS.Signals) => {
    try {
      process.kill(-running.pid, signal);
    } catch {
      // Gone already.
    }
  };
  send('SIGTERM');
  const timer = setTimeout(() => send('SIGKILL'), 5_000);
  await running.exited;
  clearTimeout(timer);
}

/** ~/.freshcache/up.json names the running up, so that `freshcache chaos` finds it without --state. */
async function publishState(state: UpState): Promise<void> {
  await mkdir(join(homedir(), '.freshcache'), { recursive: true, mode: 0o700 });
  await writeFile(UP_STATE_FILE, JSON.stringify(state, null, 2), { mode: 0o600 });
}

/** Removes ~/.freshcache/up.json if it still names this process (another up may have started since). */
async function unpublishState(): Promise<void> {
  const text = await readFile(UP_STATE_FILE, 'utf8').catch(() => '');
  if (text && (JSON.parse(text) as UpState).pid === process.pid) await rm(UP_STATE_FILE, { force: true });
}

async function checkBinaries(): Promise<void> {
  const missing: string[] = [];
  if (!postgresBinaries()) missing.push('postgresql');
  const hasRedis = await new Promise<boolean>((resolve) => {
    const probe = spawn('redis-server', ['--version'], { stdio: 'ignore' });
    probe.once('error', () => resolve(false));
    probe.once('exit', (code) => resolve(code === 0));
  });
  if (!hasRedis) missing.push('redis-server');
  if (missing.length > 0) {
    throw new Error(`freshcache up needs ${missing.join(' and ')}. On Debian or Ubuntu: sudo apt-get install -y ${missing.join(' ')}`);
  }
}
