import { describe, expect, it, onTestFinished } from 'vitest';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { redisForFile } from '../testkit/redis-server.js';
import { signal } from '../testkit/signal.js';
import { openTopology, serverAppsOf } from '../testkit/test-topology.js';

/** Two processes' worth of nodes on one Redis (log and L2), each serving both regions. */
const redisOfFile = redisForFile();
let namespaces = 0;

async function nodes() {
  const redis = { url: redisOfFile().server.url };
  const namespace = `writes${++namespaces}:`;
  const open = async (nodeId: string) => {
    const topology = await openTopology({
      config: {
        nodeId,
        regions: [
          { name: 'us-east', delayMs: 0 },
          { name: 'eu-west', delayMs: 0 },
        ],
        log: { kind: 'redis', redis, namespace },
        l2: { kind: 'redis', redis, namespace },
      },
    });
    const app = await buildApp({ topology, apps: serverAppsOf(topology) });
    onTestFinished(async () => {
      await app.close();
      await topology.close();
    });
    return { app, topology };
  };
  return { a: await open('node-a'), b: await open('node-b') };
}

/** Resolves once every region `topology` serves applied event `id`: waits on its events, never sleeps. */
async function applied(topology: Topology, id: number) {
  const applying = signal();
  const listener = () => applying.notify();
  topology.events.on('invalidation.applied', listener);
  try {
    await applying.until(() => topology.tracker.get(id)?.complete === true);
  } finally {
    topology.events.off('invalidation.applied', listener);
  }
}

describe('PUT and DELETE /api/cache/:key across processes on Redis', () => {
  it('a PUT on one node is read from the shared L2 by the other once it applied the write, the other region drops the key, and a DELETE drops it everywhere', async () => {
    const { a, b } = await nodes();
    const first = await a.app.inject({ method: 'PUT', url: '/api/cache/k?region=us-east', payload: { value: 'v1' } });
    expect(first.statusCode, first.body).toBe(201);
    await applied(b.topology, first.json<{ invalidation: number }>().invalidation);
    expect((await b.app.inject('/api/cache/k?region=us-east')).json()).toMatchObject({ value: 'v1', tier: 'l2' });
    expect((await b.app.inject('/api/cache/k?region=us-east')).json()).toMatchObject({ value: 'v1', tier: 'l1' });
    await b.topology.region('eu-west').cache.set('k', 'loaded in eu-west');

    const second = await a.app.inject({ method: 'PUT', url: '/api/cache/k?region=us-east', payload: { value: 'v2' } });
    expect(second.statusCode, second.body).toBe(201);
    await applied(b.topology, second.json<{ invalidation: number }>().invalidation);
    // Its L1 copy of v1 is gone, and v2 is trusted in L2: not a 404.
    expect((await b.app.inject('/api/cache/k?region=us-east')).json()).toMatchObject({ value: 'v2', tier: 'l2', state: 'HIT' });
    expect((await b.app.inject('/api/cache/k?region=eu-west')).statusCode).toBe(404);
    expect((await a.app.inject('/api/cache/k?region=eu-west')).statusCode).toBe(404);

    const deleted = await a.app.inject({ method: 'DELETE', url: '/api/cache/k?region=us-east' });
    expect(deleted.statusCode).toBe(204);
    await applied(b.topology, Number(deleted.headers['x-invalidation-id']));
    expect((await b.app.inject('/api/cache/k?region=us-east')).statusCode).toBe(404);
    expect((await a.app.inject('/api/cache/k?region=us-east')).statusCode).toBe(404);
  });
});
