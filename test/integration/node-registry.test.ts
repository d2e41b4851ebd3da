import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../packages/freshcache-server/src/config.js';
import type { PostgresServer } from '../../packages/freshcache-server/src/tools/local-postgres.js';
import { startPostgres } from '../../packages/freshcache-server/src/tools/local-postgres.js';
import type { RedisServer } from '../../packages/freshcache-server/src/tools/local-redis.js';
import { startRedis } from '../../packages/freshcache-server/src/tools/local-redis.js';
import type { ServeProcess } from '../../packages/freshcache-server/src/tools/serve-process.js';
import { killServe, spawnServe, stopServe } from '../../packages/freshcache-server/src/tools/serve-process.js';
import { freePort } from '../testkit/free-port.js';

const ENTRY = ['--conditions=freshcache-source', '--import', 'tsx', resolve(import.meta.dirname, '../../packages/freshcache-server/src/cli/main.ts')];
/** Short bounds, so that down and removed come within seconds; the test waits for each state, never for a time. */
const NODES = { heartbeatMs: 100, downAfterMs: 1_000, removeAfterMs: 3_000 };
/** Only turns a state that never comes into a failure. */
const WAIT = { timeout: 30_000, interval: 50 };

interface Listed {
  freshcache: { id: string; state: string; url: string | null; status: { health: string } }[];
  redis: { id: string; role: string; keys: number | null; health: string }[];
}

/**
 * Server processes on one real redis-server and PostgreSQL, as `freshcache up` runs them: each
 * lists every other in /api/nodes, a killed one is shown down then removed, and a drain sent to
 * one process is carried out by another.
 */
describe('the node registry across processes on Redis', () => {
  let redis: RedisServer;
  let postgres: PostgresServer;
  let dir: string;
  let config: string;
  const processes: ServeProcess[] = [];

  const start = async (name: string) => {
    const node = await spawnServe({
      name,
      entry: ENTRY,
      config,
      env: { FRESHCACHE_ROLES: 'us-east', FRESHCACHE_PORT: String(await freePort()), FRESHCACHE_NODE_ID: name, FRESHCACHE_LOG_LEVEL: 'warn' },
    });
    processes.push(node);
    return node;
  };
  const list = async (node: ServeProcess) => {
    const response = await fetch(`${node.url}/api/nodes`);
    expect(response.status).toBe(200);
    return (await response.json()) as Listed;
  };
  const states = async (node: ServeProcess) => Object.fromEntries((await list(node)).freshcache.map((n) => [n.id, n.state]));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'freshcache-nodes-'));
    redis = await startRedis();
    postgres = await startPostgres();
    const input: ConfigInput = {
      regions: [{ name: 'us-east', delayMs: 0 }],
      origin: { kind: 'postgres', url: postgres.url },
      demo: false,
      seed: false,
      log: { kind: 'redis', redis: { url: redis.url } },
      l2: { kind: 'redis', redis: { url: redis.url } },
      nodes: NODES,
    };
    config = join(dir, 'config.json');
    await writeFile(config, JSON.stringify(input));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(processes.map((node) => stopServe(node, 3_000)));
    await postgres?.stop();
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('both processes list both, with their URLs, and the standalone Redis as one node; a killed one is shown down, then removed', { timeout: 120_000 }, async () => {
    const [a, b] = await Promise.all([start('node-a'), start('node-b')]);
    for (const node of [a, b]) await expect.poll(() => states(node), WAIT).toEqual({ 'node-a': 'up', 'node-b': 'up' });
    const listed = await list(b);
    expect(listed.freshcache.map((n) => n.url)).toEqual([a.url, b.url]);
    expect(listed.redis).toEqual([expect.objectContaining({ id: `127.0.0.1:${new URL(redis.url).port}`, role: 'master', health: 'online' })]);
    await killServe(b);
    await expect.poll(() => states(a), WAIT).toEqual({ 'node-a': 'up', 'node-b': 'down' });
    await expect.poll(() => states(a), WAIT).toEqual({ 'node-a': 'up' });
  });

  it('DELETE /api/nodes/:id sent to another process drains the node: it leaves its consumer group and the list, and takes no more work', { timeout: 120_000 }, async () => {
    const a = processes.find((p) => p.name === 'node-a')!;
    const c = await start('node-c');
    await expect.poll(() => states(a), WAIT).toMatchObject({ 'node-c': 'up' });
    const client = new Redis(redis.url);
    try {
      const consumers = async () =>
        ((await client.xinfo('CONSUMERS', 'freshcache:{log}:events', 'region:us-east')) as string[][]).map((fields) => fields[fields.indexOf('name') + 1]).sort();
      expect(await consumers()).toContain('node-c');
      const response = await fetch(`${a.url}/api/nodes/node-c`, { method: 'DELETE' });
      expect(response.status).toBe(202);
      expect(await response.json()).toEqual({ id: 'node-c', state: 'draining' });
      await expect.poll(() => states(a), WAIT).toEqual({ 'node-a': 'up' });
      expect(await consumers()).not.toContain('node-c');
      expect(await consumers()).toContain('node-a');
      // Still running, and refusing work.
      expect((await fetch(`${c.url}/ready`)).status).toBe(503);
      const read = await fetch(`${c.url}/api/cache/k?region=us-east`);
      expect(read.status).toBe(503);
      expect(((await read.json()) as { error: { code: string } }).error.code).toBe('node_draining');
    } finally {
      client.disconnect();
    }
  });
});
