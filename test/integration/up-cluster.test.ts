import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RebalanceProgress } from '../../packages/freshcache-server/src/topology/redis-cluster-admin.js';
import { runCli } from '../testkit/cli-process.js';
import { openEvents } from '../testkit/deployment.js';
import { startUp } from '../testkit/start-up.js';
import { accepts, chaosCli, isRunning } from '../testkit/up-processes.js';
import type { UpProcess } from '../testkit/start-up.js';

/**
 * `freshcache up --redis cluster`: the L2 and the log on a Redis Cluster of 3 primaries with a
 * replica each, every node a supervised process that chaos can target, a primary that up starts
 * for `add-node` and stops after `remove-node`, and Ctrl-C stops them all. The tests share one
 * `up` (starting one takes seconds), in order; the last one stops it.
 */

type RedisNode = { name: string; host: string; port: number; role: string | undefined };
let home: string;
let up: UpProcess;
let stateFile: string;
const { chaos, services } = chaosCli(() => stateFile);
let control: string;
let node: string;
let redisNodes: RedisNode[];
/** Pids of processes that left up's supervision (a removed primary): none may outlive up either. */
const gone: number[] = [];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'freshcache-home-'));
  // Without nginx (a binary that is not there): fewer processes, and the nodes' own URLs.
  up = startUp(['--redis', 'cluster', '--nodes', '1', '--port', '0', '--capture', 'outbox'], { ...process.env, HOME: home, FRESHCACHE_NGINX: join(home, 'no-nginx') });
  await up.until(/Ctrl-C stops everything/);
  const out = up.output();
  redisNodes = [...out.matchAll(/^\s+(redis-\d+)\s+redis:\/\/([\d.]+):(\d+)\s+(primary|replica)/gm)].map(([, name, host, port, role]) => ({ name: name!, host: host!, port: Number(port), role }));
  control = /control \(API, relay\)\s+(http:\/\/\S+)/.exec(out)![1]!;
  node = /us-east-1\s+(http:\/\/\S+)/.exec(out)![1]!;
  stateFile = /--state (\S+)/.exec(out)![1]!;
}, 120_000);

afterAll(async () => {
  // Never SIGKILL `up` itself here: ask it to stop.
  await up?.stop();
  await rm(home, { recursive: true, force: true });
});

describe('freshcache up --redis cluster', () => {
  it('runs the L2 and the log on a Redis Cluster with replicas', async () => {
    expect(redisNodes.map((n) => n.role).sort()).toEqual(['primary', 'primary', 'primary', 'replica', 'replica', 'replica']);
    for (const redisNode of redisNodes) expect(redisNode.name).toBe(`redis-${redisNode.port}`);

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
  }, 60_000);

  it('adds a primary that up starts and supervises, and stops it once remove-node has moved its slots away', async () => {
    // POST /api/rebalance without a node, on up's control process: up starts the redis-server.
    const events = await openEvents(`${control}/api/events`);
    let added: string;
    try {
      const accepted = await fetch(`${control}/api/rebalance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'add-node' }) });
      const progress = (await accepted.json()) as RebalanceProgress;
      expect(accepted.status, JSON.stringify(progress)).toBe(202);
      added = progress.node!;
      const done = await events.next<RebalanceProgress>('rebalance.progress', (p) => p.operation === 'add-node' && p.finishedAt !== null);
      expect(done).toMatchObject({ node: added, phase: 'done', movedSlots: 4_096, error: null });
    } finally {
      await events.close();
    }
    const name = `redis-${added.split(':')[1]}`;
    expect(up.output()).toContain(`[up] ${name} started`);
    // A supervised child like the cluster's own nodes: chaos lists it, and it holds its share of the slots.
    const pid = (await services()).get(name);
    expect(pid, name).toBeGreaterThan(0);
    expect(await isRunning(pid!)).toBe(true);
    const listed = runCli('cluster', ['list', '--state', stateFile]);
    expect(await listed.exit(), listed.stderr()).toEqual({ code: 0, signal: null });
    expect(listed.stdout()).toMatch(new RegExp(`^[0-9a-f]{40}  ${added.replace(/\./g, '\\.')}\\s+primary  4096 slots$`, 'm'));
    const { redis } = (await (await fetch(`${control}/api/nodes`)).json()) as { redis: { address: string; role: string; slots: unknown[] }[] };
    const view = redis.find((r) => r.address === added); // what the Cluster page lists
    expect(view?.role).toBe('master');
    expect(view?.slots.length).toBeGreaterThan(0);

    // up stops no node that still belongs to the cluster, whoever asks its endpoint (the state file's token).
    const upEndpoint = JSON.parse(await readFile(stateFile, 'utf8')) as { url: string; token: string };
    const refused = await fetch(`${upEndpoint.url}/redis-nodes/${name}`, { method: 'DELETE', headers: { authorization: `Bearer ${upEndpoint.token}` } });
    expect(refused.status).toBe(409);
    expect(await isRunning(pid!)).toBe(true);

    // The CLI's remove-node, through up's state file: the slots go back, then up stops the server.
    const removed = runCli('cluster', ['remove-node', added, '--state', stateFile]);
    expect(await removed.exit(), removed.stderr()).toEqual({ code: 0, signal: null });
    expect(removed.stdout()).toMatch(new RegExp(`remove-node ${added.replace(/\./g, '\\.')}: done, 4,096 slots moved`));
    expect(up.output()).toContain(`[up] ${name} stopped`);
    expect((await services()).has(name)).toBe(false);
    expect(await isRunning(pid!)).toBe(false);
    const [host, port] = added.split(':');
    expect(await accepts({ host: host!, port: Number(port) })).toBe(false);
    gone.push(pid!);
  }, 90_000);

  it('supervises each Redis node: chaos kills a replica and a primary, and each comes back (the primary as a replica)', async () => {
    // Every Redis node is a service of its own: chaos lists it and targets it.
    const listed = await services();
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
  }, 60_000);

  it('stops all of it on Ctrl-C', async () => {
    const pids = [...(await services()).values()];
    expect(pids).toHaveLength(11); // six redis-servers, postgres, control, three nodes
    expect(await up.stop()).toBe(0);
    expect(up.output()).toContain('Stopped.');
    const alive = (await Promise.all([...pids, ...gone].map(async (pid) => ((await isRunning(pid)) ? pid : 0)))).filter(Boolean);
    expect(alive).toEqual([]);
    expect(await Promise.all(redisNodes.map(accepts))).toEqual(redisNodes.map(() => false));
  }, 60_000);

  it('refuses --replicas without --redis cluster', async () => {
    const refused = startUp(['--replicas', '1'], process.env);
    expect(await refused.exited).toBe(1);
    await refused.until('--replicas goes with --redis cluster');
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

