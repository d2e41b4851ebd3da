import { describe, expect, it } from 'vitest';
import { ManualClock } from '../engine/clock.js';
import type { NodeRecord, NodeRegistry, NodeRegistryTimings } from '../seams/node-registry.js';

/** A node's heartbeat for the suite: `id`, with `overrides`. */
export function nodeRecord(id: string, overrides: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    roles: ['edge'],
    regions: ['us-east'],
    url: `http://127.0.0.1:3000`,
    drainable: true,
    version: '0.0.0',
    startedAt: 1_000,
    status: {
      health: 'ok',
      l1: { entries: 3, bytes: 300 },
      hitRatio: 0.5,
      lagP99Ms: 12,
      breaker: 'closed',
      cursor: 7,
      regions: { 'us-east': { l1: { entries: 3, bytes: 300 }, hitRatio: 0.5, lagP99Ms: 12, cursor: 7 } },
    },
    ...overrides,
  };
}

/**
 * The contract every `NodeRegistry` keeps (memory, Redis, Redis Cluster). `make` builds an empty
 * registry that reads the time from `clock` and judges silence by `timings`; `namespace` is new
 * for each test, for registries kept in a server that outlives them (Redis).
 */
export function nodeRegistryContract(name: string, make: (options: { clock: ManualClock; timings: NodeRegistryTimings; namespace: string }) => Promise<NodeRegistry>) {
  const timings: NodeRegistryTimings = { downAfterMs: 5_000, removeAfterMs: 60_000 };
  let registries = 0;
  const setup = async () => {
    const clock = new ManualClock(1_000_000);
    const registry = await make({ clock, timings, namespace: `nodes${++registries}:` });
    return { clock, registry };
  };

  describe(`NodeRegistry contract: ${name}`, () => {
    it('lists a node that heartbeats, with its record as sent, by id', async () => {
      const { clock, registry } = await setup();
      await registry.heartbeat(nodeRecord('b'));
      await registry.heartbeat(nodeRecord('a', { url: null, drainable: false, roles: ['library'] }));
      expect(await registry.list()).toEqual([
        { ...nodeRecord('a', { url: null, drainable: false, roles: ['library'] }), lastSeenAt: clock.now(), state: 'up' },
        { ...nodeRecord('b'), lastSeenAt: clock.now(), state: 'up' },
      ]);
      expect(await registry.get('b')).toEqual({ ...nodeRecord('b'), lastSeenAt: clock.now(), state: 'up' });
      expect(await registry.get('nobody')).toBeUndefined();
      await registry.close();
    });

    it('keeps the newest heartbeat of a node: its figures and when it was seen', async () => {
      const { clock, registry } = await setup();
      await registry.heartbeat(nodeRecord('a'));
      clock.advance(1_000);
      const later = nodeRecord('a', { status: { ...nodeRecord('a').status, cursor: 9, health: 'degraded', breaker: 'open' } });
      await registry.heartbeat(later);
      expect(await registry.list()).toEqual([{ ...later, lastSeenAt: clock.now(), state: 'up' }]);
      await registry.close();
    });

    it('shows a silent node down after downAfterMs, up again when it heartbeats, and removes it after removeAfterMs', async () => {
      const { clock, registry } = await setup();
      await registry.heartbeat(nodeRecord('a'));
      await registry.heartbeat(nodeRecord('b'));
      clock.advance(timings.downAfterMs - 1);
      await registry.heartbeat(nodeRecord('b'));
      expect((await registry.list()).map((n) => [n.id, n.state])).toEqual([['a', 'up'], ['b', 'up']]);
      clock.advance(1);
      expect((await registry.list()).map((n) => [n.id, n.state])).toEqual([['a', 'down'], ['b', 'up']]);
      expect((await registry.get('a'))?.state).toBe('down');
      clock.advance(timings.removeAfterMs - timings.downAfterMs - 1);
      await registry.heartbeat(nodeRecord('b'));
      expect((await registry.list()).map((n) => [n.id, n.state])).toEqual([['a', 'down'], ['b', 'up']]);
      clock.advance(1);
      expect((await registry.list()).map((n) => n.id)).toEqual(['b']);
      expect(await registry.get('a')).toBeUndefined();
      // A removed node that comes back is listed again.
      await registry.heartbeat(nodeRecord('a'));
      expect((await registry.list()).map((n) => [n.id, n.state])).toEqual([['a', 'up'], ['b', 'up']]);
      await registry.close();
    });

    it('lists a node no more once it deregisters; deregistering an unknown id does nothing', async () => {
      const { registry } = await setup();
      await registry.heartbeat(nodeRecord('a'));
      await registry.heartbeat(nodeRecord('b'));
      await registry.deregister('a');
      await registry.deregister('nobody');
      expect((await registry.list()).map((n) => n.id)).toEqual(['b']);
      expect(await registry.get('a')).toBeUndefined();
      await registry.close();
    });

    it('a record the caller changes after its heartbeat stays as it was sent', async () => {
      const { registry } = await setup();
      const record = nodeRecord('a');
      await registry.heartbeat(record);
      record.status.l1.entries = 99;
      record.regions.push('eu-west');
      expect(await registry.get('a')).toMatchObject({ regions: ['us-east'], status: { l1: { entries: 3 } } });
      await registry.close();
    });
  });
}
