import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';

/**
 * `freshcache up --redis cluster`: the L2 and the log on a Redis Cluster of 3 primaries with a
 * replica each, every node a supervised process that chaos can target, and Ctrl-C stops them all.
 */
const MAIN = resolve(import.meta.dirname, '../../packages/freshcache-server/src/cli/main.ts');
const NODE_ARGS = ['--conditions=freshcache-source', '--import', 'tsx', MAIN];
const run = promisify(execFile);

function startUp(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [...NODE_ARGS, 'up', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const waiters: (() => void)[] = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return {
    child,
    exited,
    output: () => output,
    async until(pattern: RegExp, from = 0): Promise<void> {
      while (!pattern.test(output.slice(from))) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`up exited before printing ${pattern}:\n${output}`);
        await new Promise<void>((wake) => waiters.push(wake));
      }
    },
  };
}

describe('freshcache up --redis cluster', () => {
  it('runs the L2 and the log on a Redis Cluster with replicas, supervises each node, and stops all of it on Ctrl-C', async () => {
    const home = await mkdtemp(join(tmpdir(), 'freshcache-home-'));
    onTestFinished(() => rm(home, { recursive: true, force: true }));
    // Without nginx (a binary that is not there): fewer processes, and the nodes' own URLs.
    const up = startUp(['--redis', 'cluster', '--nodes', '1', '--port', '0', '--capture', 'outbox'], { ...process.env, HOME: home, FRESHCACHE_NGINX: join(home, 'no-nginx') });
    try {
      await up.until(/Ctrl-C stops everything/);
      const out = up.output();
      const redisNodes = [...out.matchAll(/^\s+(redis-\d+)\s+redis:\/\/([\d.]+):(\d+)\s+(primary|replica)/gm)].map(([, name, host, port, role]) => ({ name: name!, host: host!, port: Number(port), role }));
      expect(redisNodes.map((n) => n.role).sort()).toEqual(['primary', 'primary', 'primary', 'replica', 'replica', 'replica']);
      for (const node of redisNodes) expect(node.name).toBe(`redis-${node.port}`);
      const control = /control \(API, relay\)\s+(http:\/\/\S+)/.exec(out)![1]!;
      const node = /us-east-1\s+(http:\/\/\S+)/.exec(out)![1]!;
      const stateFile = /--state (\S+)/.exec(out)![1]!;
      const chaos = async (...args: string[]) => (await run(process.execPath, [...NODE_ARGS, 'chaos', ...args, '--state', stateFile])).stdout;

      // A read, an edit at the origin that the cluster's log carries to the node, and the region's L2 on the cluster.
      expect((await fetch(`${node}/edge/us-east/content/1`)).status).toBe(200);
      const edited = (await (await fetch(`${control}/api/content/1`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'on the cluster' }) })).json()) as { version: number };
      // The region's delay is 100 ms: waiting for the state, bounded far above it.
      const deadline = Date.now() + 10_000;
      let served: number;
      do served = Number((await fetch(`${node}/edge/us-east/content/1`)).headers.get('x-cache-version'));
      while (served !== edited.version && Date.now() < deadline);
      expect(served).toBe(edited.version);
      // The node filled the region's L2, on the cluster (read straight from it: how the control's
      // view judges that entry depends on when the node's load began, relative to the event).
      const cluster = new Cluster([{ host: redisNodes[0]!.host, port: redisNodes[0]!.port }]);
      try {
        const heldVersion = async () => (JSON.parse((await cluster.get('freshcache:l2:us-east:{content:1}')) ?? 'null') as { version?: number } | null)?.version;
        // A fill may still be on its way when the node has answered: bounded, far above a round trip.
        await expect.poll(heldVersion, { timeout: 5_000, interval: 50 }).toBe(edited.version);
      } finally {
        cluster.disconnect();
      }
      expect((await fetch(`${control}/api/cache?region=us-east`)).status).toBe(200);

      // Every Redis node is a service of its own: chaos lists it and targets it.
      const listed = new Map((await chaos('list')).trim().split('\n').map((line) => [line.split(/\s+/)[0]!, Number(/pid (\d+)/.exec(line)![1])]));
      for (const redisNode of redisNodes) expect(listed.has(redisNode.name), redisNode.name).toBe(true);
      const replica = redisNodes.find((n) => n.role === 'replica')!;
      const from = up.output().length;
      expect(await chaos('kill', replica.name)).toMatch(new RegExp(`${replica.name}\\s+running`));
      await up.until(new RegExp(`${replica.name} is back`), from);

      // A killed primary stays down past the node timeout: its replica takes over its slots, reads
      // go on meanwhile (the origin answers what the L2 cannot), and it comes back as a replica.
      const primary = redisNodes.find((n) => n.role === 'primary')!;
      const fromKill = up.output().length;
      await chaos('kill', primary.name);
      await up.until(/restarting in \d+ ms/, fromKill);
      for (let id = 1; id <= 5; id++) expect((await fetch(`${node}/edge/us-east/content/${id}`)).status).toBe(200);
      await up.until(new RegExp(`${primary.name} is back`), fromKill);
      expect(await roleOnceSettled(primary, 'slave')).toBe('slave');

      const pids = [...(await chaos('list')).matchAll(/pid (\d+)/g)].map(([, pid]) => Number(pid));
      expect(pids).toHaveLength(11); // six redis-servers, postgres, control, three nodes
      up.child.kill('SIGINT');
      expect(await up.exited).toBe(0);
      expect(up.output()).toContain('Stopped.');
      const alive = (await Promise.all(pids.map(async (pid) => ((await isRunning(pid)) ? pid : 0)))).filter(Boolean);
      expect(alive).toEqual([]);
      expect(await Promise.all(redisNodes.map(accepts))).toEqual(redisNodes.map(() => false));
    } finally {
      // Never SIGKILL `up` itself here: ask it to stop.
      if (up.child.exitCode === null && up.child.signalCode === null) {
        up.child.kill('SIGINT');
        await up.exited;
      }
    }
  }, 120_000);

  it('refuses --replicas without --redis cluster', async () => {
    const up = startUp(['--replicas', '1'], process.env);
    expect(await up.exited).toBe(1);
    expect(up.output()).toContain('--replicas goes with --redis cluster');
  });
});

/** The node's ROLE once it is `expected`, or what it still says after 20 s. */
async function roleOnceSettled({ host, port }: { host: string; port: number }, expected: string): Promise<string> {
  const redis = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const role = String(((await redis.call('ROLE')) as unknown[])[0]);
      if (role === expected || Date.now() > deadline) return role;
      await new Promise((wake) => setTimeout(wake, 100));
    }
  } finally {
    redis.disconnect();
  }
}

/** Running: a zombie has exited (this container's init may be slow to reap orphans). */
async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const state = stat ? stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) : '';
  return state !== '' && state !== 'Z';
}

/** Whether something listens on host:port. */
function accepts({ host, port }: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolveAccepts) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolveAccepts(true);
    });
    socket.once('error', () => resolveAccepts(false));
  });
}
