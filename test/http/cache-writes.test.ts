import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { Region } from '../../packages/freshcache-server/src/topology/region.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { testApp } from '../testkit/test-topology.js';

/**
 * A second node of `region`, in this process: it shares the region's L2 and the topology's log,
 * and joins the region's consumer group, as a node of another process would on Redis.
 */
async function secondNode(topology: Topology, name: string, clock: ManualClock): Promise<Region> {
  const first = topology.region(name);
  const node = new Region({ ...topology.config.regions.find((r) => r.name === name)! }, { clock, log: topology.log, l2: first.cache.l2, nodeId: 'second' });
  await node.start();
  return node;
}

describe('PUT and DELETE /api/cache/:key reach every node of every region', () => {
  it('a PUT is read back from L2 by another node of the region once it applied the write, replacing its stale L1 copy', async () => {
    const clock = new ManualClock(Date.now());
    const { app, topology } = await testApp({ clock });
    const other = await secondNode(topology, 'us-east', clock);
    try {
      expect((await app.inject({ method: 'PUT', url: '/api/cache/k', payload: { value: 'v1' } })).statusCode).toBe(201);
      await clock.advanceAsync(100); // us-east's delay: both nodes applied the first write
      expect(await other.cache.lookup('k')).toMatchObject({ value: 'v1', tier: 'l2' });
      expect(await other.cache.lookup('k')).toMatchObject({ value: 'v1', tier: 'l1' });

      const put = await app.inject({ method: 'PUT', url: '/api/cache/k', payload: { value: 'v2' } });
      expect(put.statusCode, put.body).toBe(201);
      const { invalidation } = put.json<{ invalidation: number }>();
      expect(put.json()).toEqual({ key: 'k', region: 'us-east', stored: true, invalidation });
      // Until the write's event reaches it, the other node still has its L1 copy (the region's delay).
      expect(await other.cache.lookup('k')).toMatchObject({ value: 'v1', tier: 'l1' });
      await clock.advanceAsync(100);
      expect(other.cache.position).toBe(invalidation);
      expect(await other.cache.lookup('k')).toMatchObject({ value: 'v2', tier: 'l2', state: 'HIT' });
      // And the node that took the PUT still serves it after applying its own event.
      expect((await app.inject('/api/cache/k')).json()).toMatchObject({ value: 'v2', state: 'HIT' });
    } finally {
      await other.stop();
    }
  });

  it('a PUT drops the key in the other regions, each after its delay, and says which event to follow', async () => {
    const clock = new ManualClock(Date.now());
    const { app, topology } = await testApp({ clock });
    // Copies the other regions hold (loaded there, or written before this PUT).
    await topology.region('eu-west').cache.set('k', 'old');
    await topology.region('ap-south').cache.set('k', 'old');

    const put = await app.inject({ method: 'PUT', url: '/api/cache/k?region=us-east', payload: { value: 'new' } });
    expect(put.statusCode, put.body).toBe(201);
    const { invalidation } = put.json<{ invalidation: number }>();
    expect((await app.inject('/api/cache/k?region=eu-west')).json()).toMatchObject({ value: 'old' });

    await clock.advanceAsync(600); // the slowest region's delay
    const status = await app.inject(`/api/invalidations/${invalidation}`);
    expect(status.json()).toMatchObject({ id: invalidation, source: 'write', keys: ['k'], complete: true });
    expect((await app.inject('/api/cache/k?region=eu-west')).statusCode).toBe(404);
    expect((await app.inject('/api/cache/k?region=ap-south')).statusCode).toBe(404);
    expect((await app.inject('/api/cache/k?region=us-east')).json()).toMatchObject({ value: 'new', state: 'HIT' });
  });

  it('a DELETE drops the key on every node of every region', async () => {
    const clock = new ManualClock(Date.now());
    const { app, topology } = await testApp({ clock });
    const other = await secondNode(topology, 'us-east', clock);
    try {
      await app.inject({ method: 'PUT', url: '/api/cache/k', payload: { value: 'v1' } });
      await clock.advanceAsync(100);
      expect(await other.cache.lookup('k')).toMatchObject({ value: 'v1' }); // now in its L1 too
      await topology.region('eu-west').cache.set('k', 'loaded there');

      const deleted = await app.inject({ method: 'DELETE', url: '/api/cache/k' });
      expect(deleted.statusCode).toBe(204);
      const id = Number(deleted.headers['x-invalidation-id']);
      await clock.advanceAsync(300);
      expect(await other.cache.lookup('k')).toBeUndefined();
      expect((await app.inject('/api/cache/k')).statusCode).toBe(404);
      expect((await app.inject('/api/cache/k?region=eu-west')).statusCode).toBe(404);
      expect((await app.inject(`/api/invalidations/${id}`)).json()).toMatchObject({ source: 'purge', keys: ['k'] });
    } finally {
      await other.stop();
    }
  });
});
