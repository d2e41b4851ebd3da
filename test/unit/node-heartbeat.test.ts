import { describe, expect, it } from 'vitest';
import { MemoryNodeRegistry } from '../../packages/freshcache/src/adapters/memory/memory-node-registry.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { NodeHeartbeat } from '../../packages/freshcache/src/observability/node-heartbeat.js';
import type { NodeRecord, NodeRegistry } from '../../packages/freshcache/src/seams/node-registry.js';
import { nodeRecord } from '../../packages/freshcache/src/testing/node-registry-contract.js';
import { resolveConfig } from '../../packages/freshcache-server/src/config.js';
import { parseConfig } from '../../packages/freshcache-server/src/config-file.js';

describe('NodeHeartbeat', () => {
  it('keeps a node listed up while it beats every intervalMs, with its figures of the moment; stop() deregisters it', async () => {
    const clock = new ManualClock(1_000);
    const registry = new MemoryNodeRegistry({ clock, downAfterMs: 500, removeAfterMs: 5_000 });
    let cursor = 1;
    const heartbeat = new NodeHeartbeat({ registry, id: 'n', clock, intervalMs: 100, describe: () => nodeRecord('n', { status: { ...nodeRecord('n').status, cursor } }) });
    await heartbeat.start();
    for (let i = 0; i < 20; i++) {
      cursor++;
      await clock.advanceAsync(100);
    }
    expect(await registry.get('n')).toMatchObject({ state: 'up', lastSeenAt: clock.now(), status: { cursor: 21 } });
    await heartbeat.stop();
    expect(await registry.list()).toEqual([]);
    // Stopped: no more heartbeats bring it back.
    await clock.advanceAsync(1_000);
    expect(await registry.list()).toEqual([]);
  });

  it('a heartbeat that fails is reported, and the next one tries again', async () => {
    const clock = new ManualClock(1_000);
    const memory = new MemoryNodeRegistry({ clock });
    let down = true;
    const flaky: NodeRegistry = {
      heartbeat: async (record: NodeRecord) => {
        if (down) throw new Error('Redis is down');
        await memory.heartbeat(record);
      },
      list: () => memory.list(),
      get: (id) => memory.get(id),
      deregister: (id) => memory.deregister(id),
      close: async () => {},
    };
    const errors: unknown[] = [];
    const heartbeat = new NodeHeartbeat({ registry: flaky, id: 'n', clock, intervalMs: 100, describe: () => nodeRecord('n'), onError: (error) => errors.push(error) });
    await heartbeat.start();
    expect(errors).toHaveLength(1);
    down = false;
    await clock.advanceAsync(100);
    expect(await memory.get('n')).toMatchObject({ state: 'up' });
    await heartbeat.stop();
  });
});

describe('the nodes settings', () => {
  it('default to a 1 s heartbeat, down after 5 s, removed after 60 s, and come from the config file', () => {
    expect(resolveConfig({}).nodes).toEqual({ heartbeatMs: 1_000, downAfterMs: 5_000, removeAfterMs: 60_000 });
    const input = parseConfig(JSON.stringify({ nodes: { heartbeatMs: 200, downAfterMs: 1_000, removeAfterMs: 3_000 } }));
    expect(resolveConfig(input).nodes).toEqual({ heartbeatMs: 200, downAfterMs: 1_000, removeAfterMs: 3_000 });
  });

  it('refuse a down bound within one heartbeat, a removal before down, and unknown fields', () => {
    expect(() => resolveConfig({ nodes: { heartbeatMs: 1_000, downAfterMs: 1_000 } })).toThrow(/nodes.downAfterMs/);
    expect(() => resolveConfig({ nodes: { downAfterMs: 5_000, removeAfterMs: 5_000 } })).toThrow(/nodes.removeAfterMs/);
    expect(() => parseConfig(JSON.stringify({ nodes: { heartbeat: 1 } }))).toThrow(/nodes/);
  });
});
