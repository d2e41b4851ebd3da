import { describe, expect, it } from 'vitest';
import { findFailovers, parseClusterLayout } from '../../packages/freshcache-server/src/topology/redis-failover-watch.js';
import type { LookedNode } from '../../packages/freshcache-server/src/topology/redis-failover-watch.js';

/** CLUSTER NODES lines: id, address, flags, master, ping, pong, config epoch, link, slots. */
const HEALTHY = `
aaa 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460
bbb 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922
ccc 127.0.0.1:7003@17003 master - 0 0 3 connected 10923-16383
ddd 127.0.0.1:7004@17004 slave aaa 0 0 1 connected
eee 127.0.0.1:7005@17005 slave bbb 0 0 2 connected
fff 127.0.0.1:7006@17006 slave ccc 0 0 3 connected
`;
/** aaa was killed: its replica ddd took over with a new epoch. */
const FAILED_OVER = `
aaa 127.0.0.1:7001@17001 master,fail - 0 0 1 disconnected
bbb 127.0.0.1:7002@17002 myself,master - 0 0 2 connected 5461-10922
ccc 127.0.0.1:7003@17003 master - 0 0 3 connected 10923-16383
ddd 127.0.0.1:7004@17004 master - 0 0 4 connected 0-5460
eee 127.0.0.1:7005@17005 slave bbb 0 0 2 connected
fff 127.0.0.1:7006@17006 slave ccc 0 0 3 connected
`;
/** Resharding: bbb gave slots to aaa (aaa's epoch bumped), and a slot is still open. */
const RESHARDED = `
aaa 127.0.0.1:7001@17001 myself,master - 0 0 7 connected 0-5460 5461-6000 [6001->-bbb]
bbb 127.0.0.1:7002@17002 master - 0 0 2 connected 6001-10922
ccc 127.0.0.1:7003@17003 master - 0 0 3 connected 10923-16383
ddd 127.0.0.1:7004@17004 slave aaa 0 0 7 connected
eee 127.0.0.1:7005@17005 slave bbb 0 0 2 connected
fff 127.0.0.1:7006@17006 slave ccc 0 0 3 connected
`;

const byId = (nodes: LookedNode[]) => new Map(nodes.map((n) => [n.id, n]));
const highest = (nodes: LookedNode[]) => Math.max(...nodes.map((n) => n.epoch));

describe('parseClusterLayout', () => {
  it('reads roles, masters, epochs and slot ranges, skipping open slots', () => {
    const nodes = parseClusterLayout(RESHARDED);
    expect(nodes.find((n) => n.id === 'aaa')).toEqual({ id: 'aaa', address: '127.0.0.1:7001', role: 'master', masterId: null, epoch: 7, slots: [[0, 5460], [5461, 6000]] });
    expect(nodes.find((n) => n.id === 'ddd')).toEqual({ id: 'ddd', address: '127.0.0.1:7004', role: 'replica', masterId: 'aaa', epoch: 7, slots: [] });
  });
});

describe('findFailovers', () => {
  it('a replica promoted to primary with a new epoch: the primary it replicated failed over to it', () => {
    const before = parseClusterLayout(HEALTHY);
    expect(findFailovers(byId(before), parseClusterLayout(FAILED_OVER), highest(before))).toEqual([
      { failedNode: { id: 'aaa', address: '127.0.0.1:7001' }, promotedNode: { id: 'ddd', address: '127.0.0.1:7004' }, slots: [[0, 5460]] },
    ]);
  });

  it('nothing when nothing changed, or when slots moved between primaries (resharding)', () => {
    const before = parseClusterLayout(HEALTHY);
    expect(findFailovers(byId(before), parseClusterLayout(HEALTHY), highest(before))).toEqual([]);
    expect(findFailovers(byId(before), parseClusterLayout(RESHARDED), highest(before))).toEqual([]);
  });

  it("a stale view in between (a restarted node's old nodes.conf) reports the failover neither again nor backwards", () => {
    const healthy = parseClusterLayout(HEALTHY);
    const failedOver = parseClusterLayout(FAILED_OVER);
    let epoch = highest(healthy);
    expect(findFailovers(byId(healthy), failedOver, epoch)).toHaveLength(1);
    epoch = Math.max(epoch, highest(failedOver));
    // The old primary, restarted, answers with its old layout (itself primary, ddd its replica)…
    const stale = parseClusterLayout(HEALTHY);
    expect(findFailovers(byId(failedOver), stale, epoch)).toEqual([]);
    // …then the cluster's own again: ddd was a replica in the view before, but its epoch is not new.
    expect(findFailovers(byId(stale), failedOver, epoch)).toEqual([]);
  });
});
