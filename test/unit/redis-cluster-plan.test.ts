import { describe, expect, it } from 'vitest';
import { parseAddress, parseClusterNodes, plannedMoves, slotSignature } from '../../packages/freshcache-server/src/topology/redis-cluster-admin.js';

describe('plannedMoves: the slots a redis-cli rebalance moves', () => {
  const primary = (slots: number, weight = 1) => ({ slots, weight });

  it('gives an empty fourth primary its quarter of the slots', () => {
    expect(plannedMoves([primary(5461), primary(5462), primary(5461), primary(0)])).toBe(4_096);
  });

  it('moves every slot of a primary of weight 0 (a removal)', () => {
    expect(plannedMoves([primary(4096), primary(4096), primary(4096, 0), primary(4096)])).toBe(4_096);
  });

  it('moves nothing when every primary is within 2 % of its share', () => {
    expect(plannedMoves([primary(5461), primary(5462), primary(5461)])).toBe(0);
    expect(plannedMoves([primary(5400), primary(5500), primary(5484)])).toBe(0);
  });

  it('moves every surplus over the share once one primary is beyond 2 %', () => {
    // Shares of 5461: the second gives 461, the third its 1, and the first takes both.
    expect(plannedMoves([primary(5000), primary(5922), primary(5462)])).toBe(462);
  });
});

describe('parseClusterNodes', () => {
  const text = [
    'a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 [5461->-b2]',
    'b2 127.0.0.1:7001@17001 master - 0 1 2 connected 5461-10922 [5461-<-a1]',
    'c3 127.0.0.1:7002@17002,hostname master,fail - 0 1 3 connected 10923-16383',
    'd4 127.0.0.1:7003@17003 slave a1 0 1 1 connected',
    'e5 :0@0 master,noaddr - 0 1 0 disconnected',
    '',
  ].join('\n');

  it('reads ids, addresses, roles, slot counts and ranges, epochs and health, and counts open slots', () => {
    const { nodes, openSlots } = parseClusterNodes(text);
    expect(openSlots).toBe(2);
    const healthy = { unhealthy: false, handshake: false, myself: false };
    expect(nodes).toEqual([
      { id: 'a1', address: '127.0.0.1:7000', role: 'master', masterId: null, slots: 5461, ranges: [[0, 5460]], epoch: 1, ...healthy, myself: true },
      { id: 'b2', address: '127.0.0.1:7001', role: 'master', masterId: null, slots: 5462, ranges: [[5461, 10922]], epoch: 2, ...healthy },
      { id: 'c3', address: '127.0.0.1:7002', role: 'master', masterId: null, slots: 5461, ranges: [[10923, 16383]], epoch: 3, ...healthy, unhealthy: true },
      { id: 'd4', address: '127.0.0.1:7003', role: 'replica', masterId: 'a1', slots: 0, ranges: [], epoch: 1, ...healthy },
    ]);
  });
});

describe('parseAddress', () => {
  it('takes host:port and refuses anything else with bad_request', () => {
    expect(parseAddress('127.0.0.1:7000')).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(parseAddress('[::1]:7000')).toEqual({ host: '::1', port: 7000 });
    for (const bad of ['127.0.0.1', ':7000', '127.0.0.1:0', '127.0.0.1:70000', 'a b:1']) expect(() => parseAddress(bad)).toThrow(expect.objectContaining({ code: 'bad_request' }));
  });
});

describe('slotSignature: what redis-cli compares before it moves slots', () => {
  const line = (id: string, port: number, flags: string, slots: string) => `${id} 127.0.0.1:${port}@1${port} ${flags} - 0 0 1 connected ${slots}`.trim();

  it('is the same for two nodes that see the same owners, whatever the order of lines, their own flags, or a slot being migrated', () => {
    const a = [line('aaa', 7001, 'myself,master', '0-8191'), line('bbb', 7002, 'master', '8192-16383'), line('ccc', 7003, 'slave', '')].join('\n');
    const b = [line('ccc', 7003, 'myself,slave', ''), line('bbb', 7002, 'master', '8192-16383 [100->-aaa]'), line('aaa', 7001, 'master', '0-8191')].join('\n');
    expect(slotSignature(a)).toBe(slotSignature(b));
  });

  it('differs while one node still sees a slot range at its old owner', () => {
    const moved = [line('aaa', 7001, 'master', '0-4095'), line('bbb', 7002, 'master', '8192-16383'), line('ddd', 7004, 'master', '4096-8191')].join('\n');
    const stale = [line('aaa', 7001, 'master', '0-8191'), line('bbb', 7002, 'master', '8192-16383'), line('ddd', 7004, 'master', '')].join('\n');
    expect(slotSignature(moved)).not.toBe(slotSignature(stale));
  });
});
