import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ConfigInput } from '../../config.js';
import { DEFAULT_REGIONS } from '../../config.js';
import { freePort } from '../../tools/free-port.js';
import { postgresBinaries, startPostgres } from '../../tools/local-postgres.js';
import { startRedis } from '../../tools/local-redis.js';
import type { ServeProcess } from '../../tools/serve-process.js';
import { spawnServe, stopServe } from '../../tools/serve-process.js';
import { untilSignal } from '../until-signal.js';

export const upHelp = `freshcache up [--nodes N] [--capture wal|outbox] [--port N]

Starts a real local topology and stops all of it on Ctrl-C: a redis-server (append-only, for the
invalidation log and each region's shared L2) and a PostgreSQL (initdb in a temp folder), both on
free ports; a control process (HTTP API, relay candidate, seeds sample content); and N node
processes per region (us-east, eu-west, ap-south).

  --nodes N        node processes per region (default 1)
  --capture KIND   change capture: wal (logical replication, default) or outbox
  --port N         port of the control process (default 3000; nodes take free ports)`;

export async function up(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '1' },
      capture: { type: 'string', default: 'wal' },
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
  await checkBinaries();

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
  try {
    const dir = await mkdtemp(join(tmpdir(), 'freshcache-up-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    process.stdout.write('Starting redis-server… ');
    const redis = await startRedis({ durable: true });
    cleanups.push(() => redis.stop());
    stopIfInterrupted();
    console.log(redis.url);
    process.stdout.write('Starting PostgreSQL (initdb)… ');
    const postgres = await startPostgres();
    cleanups.push(() => postgres.stop());
    stopIfInterrupted();
    console.log(postgres.url.replace(/^postgres:\/\/[^@]*@/, 'postgres://'));

    const shared: ConfigInput = {
      origin: { kind: 'postgres', url: postgres.url },
      capture: values.capture === 'wal' ? { kind: 'wal' } : { kind: 'outbox' },
      demo: true, // the demo's own database: up creates it
      log: { kind: 'redis', redis: { url: redis.url } },
      l2: { kind: 'redis', redis: { url: redis.url } },
    };
    const controlConfig = join(dir, 'control.json');
    const nodeConfig = join(dir, 'node.json');
    await writeFile(controlConfig, JSON.stringify({ ...shared, seed: true }, null, 2));
    await writeFile(nodeConfig, JSON.stringify({ ...shared, seed: false }, null, 2));

    const started: ServeProcess[] = [];
    // The same entry point this process runs (dist/cli/main.js, or src under tsx).
    const entry = [...process.execArgv, process.argv[1]!];
    const launch = async (name: string, config: string, env: Record<string, string>) => {
      const node = await spawnServe({ name, entry, config, env, onStderr: (text) => process.stderr.write(`[${name}] ${text}`) });
      cleanups.push(() => stopServe(node));
      started.push(node);
      return node;
    };
    await launch('control', controlConfig, { FRESHCACHE_ROLES: 'relay', FRESHCACHE_PORT: String(port), FRESHCACHE_NODE_ID: 'control' });
    stopIfInterrupted();
    // All settle before going on, so that a node that fails never leaves a sibling unstopped.
    const launches = await Promise.allSettled(
      DEFAULT_REGIONS.flatMap((region) =>
        Array.from({ length: nodes }, async (_, i) =>
          launch(`${region.name}-${i + 1}`, nodeConfig, {
            FRESHCACHE_ROLES: region.name,
            FRESHCACHE_PORT: String(await freePort()),
            FRESHCACHE_NODE_ID: `${region.name}-${i + 1}`,
          }),
        ),
      ),
    );
    const failed = launches.find((launched) => launched.status === 'rejected');
    if (failed) throw failed.reason;
    stopIfInterrupted();

    const control = started[0]!;
    started.sort((a, b) => (a.name === 'control' ? -1 : b.name === 'control' ? 1 : a.name.localeCompare(b.name)));
    console.log(`
freshcache is up: ${started.length} processes on Redis and PostgreSQL (${values.capture} capture).
  control (API, relay)  ${control.url}   docs ${control.url}/docs
${started
  .slice(1)
  .map((node) => `  ${node.name.padEnd(20)}  ${node.url}   e.g. ${node.url}/edge/${node.name.replace(/-\d+$/, '')}/content/1`)
  .join('\n')}
  redis                 ${redis.url}
  postgres              ${postgres.url}

Edit content through the control process (PUT ${control.url}/api/content/1) or straight in SQL
(psql ${postgres.url} -c "UPDATE content SET title = 'psql' WHERE id = 1"),
and read it through any node. Ctrl-C stops everything.`);
    await Promise.race([signalled, firstExit(started)]);
  } finally {
    stopping = true;
    // A second Ctrl-C (or the terminal signalling the whole group) must not cut the clean-up
    // short and leave PostgreSQL or Redis running.
    const patience = () => console.log('  still stopping…');
    process.on('SIGINT', patience);
    process.on('SIGTERM', patience);
    console.log('\nStopping…');
    await stopAll();
    console.log('Stopped.');
  }
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

/** Set once `up` is stopping: children exiting then are expected. */
let stopping = false;

function firstExit(started: ServeProcess[]): Promise<void> {
  return new Promise((resolve) => {
    for (const node of started) {
      node.child.once('exit', (code, signal) => {
        if (stopping) return;
        console.error(`\n${node.name} exited (${signal ?? code}); stopping the rest.`);
        resolve();
      });
    }
  });
}
