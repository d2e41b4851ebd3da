import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../testkit/cli-process.js';
import { startRedisCluster } from '../testkit/redis-cluster.js';
import type { RedisCluster } from '../testkit/redis-cluster.js';
import { startRedis } from '../testkit/redis-server.js';
import type { RedisServer } from '../testkit/redis-server.js';

/** `freshcache cluster` against a real Redis Cluster named by --seed. */
let cluster: RedisCluster;
let newcomer: RedisServer;

beforeAll(async () => {
  cluster = await startRedisCluster();
  newcomer = await startRedis({ cluster: true });
}, 60_000);

afterAll(async () => {
  await newcomer?.stop();
  await cluster?.stop();
});

const seed = () => cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');

describe('freshcache cluster', () => {
  it('adds a primary and removes it again, with a plain progress line per step when not on a terminal', async () => {
    const address = `${newcomer.host}:${newcomer.port}`;
    const add = runCli('cluster', ['add-node', address, '--seed', seed()]);
    expect(await add.exit(), add.stderr()).toEqual({ code: 0, signal: null });
    const output = add.stdout();
    expect(output).toContain('joining: 0 / 4,096 slots');
    expect(output).toMatch(/^moving \d+ slots from 127\.0\.0\.1:\d+ to 127\.0\.0\.1:\d+$/m);
    expect(output).toContain('moving: 4,096 / 4,096 slots');
    expect(output).toMatch(new RegExp(`add-node ${address}: done, 4,096 slots moved in [\\d.]+ s`));

    const list = runCli('cluster', ['list', '--seed', seed()]);
    await list.exit();
    expect(list.stdout()).toMatch(new RegExp(`^[0-9a-f]{40}  ${address.replace(/\./g, '\\.')}\\s+primary  4096 slots$`, 'm'));

    const remove = runCli('cluster', ['remove-node', address, '--seed', seed()]);
    expect(await remove.exit(), remove.stderr()).toEqual({ code: 0, signal: null });
    expect(remove.stdout()).toMatch(new RegExp(`remove-node ${address}: done, 4,096 slots moved`));
  });

  it('rebalances slots onto a primary that joined without any', async () => {
    const address = `${newcomer.host}:${newcomer.port}`;
    const member = cluster.nodes[0]!;
    await promisify(execFile)('redis-cli', ['--cluster', 'add-node', address, `${member.host}:${member.port}`]);
    await untilEveryNodeKnows(newcomer.port);
    const rebalance = runCli('cluster', ['rebalance', '--seed', seed()]);
    expect(await rebalance.exit(), rebalance.stderr()).toEqual({ code: 0, signal: null });
    expect(rebalance.stdout()).toMatch(/rebalance: done, 4,096 slots moved/);
    const again = runCli('cluster', ['rebalance', '--seed', seed()]);
    expect(await again.exit(), again.stderr()).toEqual({ code: 0, signal: null });
    expect(again.stdout()).toMatch(/rebalance: done, 0 slots moved/);
  });

  it('finds the Redis Cluster of a running freshcache up through its state file when given no --seed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'freshcache-cluster-cli-'));
    try {
      // What up writes: its state, and in its folder the control process's config.
      await writeFile(join(dir, 'control.json'), JSON.stringify({ l2: { kind: 'redis', redis: { cluster: cluster.nodes.slice(1) } } }));
      await writeFile(join(dir, 'up.json'), JSON.stringify({ pid: process.pid, url: 'http://127.0.0.1:1', token: 'x', dir, services: [] }));
      const list = runCli('cluster', ['list', '--state', join(dir, 'up.json')]);
      expect(await list.exit(), list.stderr()).toEqual({ code: 0, signal: null });
      for (const node of cluster.nodes) expect(list.stdout()).toContain(`${node.host}:${node.port}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 with the reason when the request does not fit the cluster', async () => {
    const member = cluster.nodes[0]!;
    const add = runCli('cluster', ['add-node', `${member.host}:${member.port}`, '--seed', seed()]);
    expect((await add.exit()).code).toBe(1);
    expect(add.stderr()).toContain('is already a node of the cluster');
    // With --seed no freshcache up is asked: a new primary needs its address.
    const bare = runCli('cluster', ['add-node', '--seed', seed()]);
    expect((await bare.exit()).code).toBe(1);
    expect(bare.stderr()).toContain('add-node needs the host:port of a running, empty, cluster-enabled redis-server');
    const usage = runCli('cluster', ['rebalance', 'extra', '--seed', seed()]);
    expect((await usage.exit()).code).toBe(1);
    expect(usage.stderr()).toContain('usage: freshcache cluster');
  });
});

/**
 * Until every node of the cluster lists the node on `port` past its handshake: a join raises no
 * event, and waiting for external servers is where a bounded poll belongs.
 */
async function untilEveryNodeKnows(port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const views = await Promise.all(
      cluster.nodes.map(async (n) => {
        const redis = new Redis(n.port, n.host);
        try {
          return String(await redis.call('CLUSTER', 'NODES'));
        } finally {
          redis.disconnect();
        }
      }),
    );
    if (views.every((view) => view.split('\n').some((line) => line.includes(`:${port}@`) && !line.includes('handshake')))) return;
    if (Date.now() > deadline) throw new Error(`the cluster did not take in the node on port ${port}:\n${views.join('\n')}`);
    await delay(100);
  }
}
