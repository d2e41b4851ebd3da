import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { nodeRecord } from '../../packages/freshcache/src/testing/node-registry-contract.js';
import { testApp } from '../testkit/test-topology.js';
import { expectError } from './http-kit.js';

interface Listed {
  freshcache: { id: string; state: string; url: string | null; roles: string[]; regions: string[]; drainable: boolean; status: { health: string; cursor: number } }[];
  redis: unknown[];
}

describe('GET /api/nodes on the embedded topology (in-memory registry)', () => {
  it('lists this process with its roles, regions and figures, and no Redis node', async () => {
    const { app, topology } = await testApp();
    const res = await app.inject({ method: 'GET', url: '/api/nodes' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<Listed>();
    expect(body.redis).toEqual([]);
    expect(body.freshcache).toEqual([
      expect.objectContaining({
        kind: 'freshcache',
        id: topology.config.nodeId,
        roles: ['edge', 'relay', 'control'],
        regions: ['us-east', 'eu-west', 'ap-south'],
        url: null,
        drainable: true,
        state: 'up',
        status: expect.objectContaining({ health: 'ok', l1: { entries: 0, bytes: 0 }, breaker: null }),
      }),
    ]);
    // Per region too: the embedded process serves all three.
    const regions = (body.freshcache[0]!.status as unknown as { regions: Record<string, { l1: { entries: number }; cursor: number }> }).regions;
    expect(Object.keys(regions).sort()).toEqual(['ap-south', 'eu-west', 'us-east']);
    expect(regions['us-east']).toMatchObject({ l1: { entries: 0, bytes: 0 }, hitRatio: null });
    const one = await app.inject({ method: 'GET', url: `/api/nodes/${encodeURIComponent(topology.config.nodeId)}` });
    expect(one.json()).toMatchObject({ kind: 'freshcache', id: topology.config.nodeId });
  });

  it('lists a library instance with url null; a drain of it is 409 not_drainable; an unknown id is 404', async () => {
    const { app, topology } = await testApp();
    await topology.presence.registry.heartbeat(nodeRecord('billing-1', { roles: ['library'], url: null, drainable: false }));
    const listed = (await app.inject({ method: 'GET', url: '/api/nodes' })).json<Listed>().freshcache.map((n) => n.id);
    expect(listed).toContain('billing-1');
    expect((await app.inject({ method: 'GET', url: '/api/nodes/billing-1' })).json()).toMatchObject({ id: 'billing-1', url: null, drainable: false });
    expectError(await app.inject({ method: 'DELETE', url: '/api/nodes/billing-1' }), 409, 'not_drainable');
    expectError(await app.inject({ method: 'GET', url: '/api/nodes/nobody' }), 404, 'not_found');
    expectError(await app.inject({ method: 'DELETE', url: '/api/nodes/nobody' }), 404, 'not_found');
  });

  it('shows a node that stopped heartbeating down after nodes.downAfterMs, and removes it after nodes.removeAfterMs, while this one stays up', async () => {
    const clock = new ManualClock(Date.now());
    const { app, topology } = await testApp({ clock, config: { nodes: { heartbeatMs: 100, downAfterMs: 500, removeAfterMs: 2_000 } } });
    await topology.presence.registry.heartbeat(nodeRecord('gone-1'));
    const states = async () => Object.fromEntries((await app.inject({ method: 'GET', url: '/api/nodes' })).json<Listed>().freshcache.map((n) => [n.id, n.state]));
    expect(await states()).toEqual({ [topology.config.nodeId]: 'up', 'gone-1': 'up' });
    await clock.advanceAsync(500);
    expect(await states()).toEqual({ [topology.config.nodeId]: 'up', 'gone-1': 'down' });
    await clock.advanceAsync(1_500);
    expect(await states()).toEqual({ [topology.config.nodeId]: 'up' });
  });

  it('drains this node: 202, then it takes no more work (node_draining, /ready 503) and leaves the list', async () => {
    const { app, topology } = await testApp();
    const id = topology.config.nodeId;
    const res = await app.inject({ method: 'DELETE', url: `/api/nodes/${encodeURIComponent(id)}` });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toEqual({ id, state: 'draining' });
    await topology.drain();
    expect((await app.inject({ method: 'GET', url: '/api/nodes' })).json<Listed>().freshcache).toEqual([]);
    expectError(await app.inject({ method: 'GET', url: '/api/cache/some-key?region=us-east' }), 503, 'node_draining');
    expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
  });
});
