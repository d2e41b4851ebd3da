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

  it('exits 1 with the reason when the request does not fit the cluster', async () => {
    const member = cluster.nodes[0]!;
    const add = runCli('cluster', ['add-node', `${member.host}:${member.port}`, '--seed', seed()]);
    expect((await add.exit()).code).toBe(1);
    expect(add.stderr()).toContain('is already a node of the cluster');
    const usage = runCli('cluster', ['rebalance', 'extra', '--seed', seed()]);
    expect((await usage.exit()).code).toBe(1);
    expect(usage.stderr()).toContain('usage: freshcache cluster');
  });
});
