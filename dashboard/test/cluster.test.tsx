import { act, cleanup, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryLocation } from 'wouter/memory-location';
import { App } from '../src/App';
import { ApiClient } from '../src/api/client';
import type { ChaosService, FreshcacheNode, NodeList, RebalanceProgress, RebalanceStatus, RedisFailover, RedisNode } from '../src/api/types';
import { REFRESH_MS } from '../src/pages/cluster/ClusterPage';
import { fakeServices, SERVER_INFO } from './fake-services';
import type { Call } from './fake-services';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

function node(id: string, extra: Partial<FreshcacheNode> = {}, status: Partial<FreshcacheNode['status']> = {}): FreshcacheNode {
  return {
    kind: 'freshcache',
    id,
    roles: ['edge'],
    regions: ['us-east'],
    url: `http://127.0.0.1:4000`,
    drainable: true,
    version: '0.1.0',
    startedAt: 1_000,
    lastSeenAt: 2_000,
    state: 'up',
    ...extra,
    status: { health: 'ok', l1: { entries: 1234, bytes: 2048 }, hitRatio: 0.875, lagP99Ms: 42, breaker: 'closed', cursor: 9, ...status },
  };
}

const REDIS: RedisNode = {
  kind: 'redis',
  id: '127.0.0.1:6390',
  address: '127.0.0.1:6390',
  role: 'master',
  masterId: null,
  slots: [],
  health: 'online',
  replicationOffset: 77,
  keys: 5678,
  memoryBytes: 3 * 1024 * 1024,
  opsPerSec: 250,
};

const FLEET: NodeList = {
  freshcache: [
    node('eu-west-1', { regions: ['eu-west'] }, { lagP99Ms: 180, hitRatio: 0.5 }),
    node('us-east-1'),
    node('us-east-2', { state: 'down', lastSeenAt: 1_500 }, { health: 'degraded', breaker: 'open' }),
    node('billing-lib', { roles: ['library'], regions: [], url: null, drainable: false }),
  ],
  redis: [REDIS],
};

const SERVICES: ChaosService[] = [
  { name: 'control', pid: 100, state: 'running', restarts: 0 },
  { name: 'us-east-1', pid: 101, state: 'paused', restarts: 2 },
];

type Answer = { status?: number; body?: unknown };

function renderCluster(respond: (call: Call) => Answer | undefined = () => undefined, info = SERVER_INFO) {
  const services = fakeServices((call) => {
    if (call.path === '/api/info') return { body: info };
    if (call.method === 'GET' && call.path === '/api/nodes') return { body: FLEET };
    return respond(call);
  });
  render(<App services={services} hook={memoryLocation({ path: '/cluster' }).hook} />);
  return services;
}

/** The table of one region group, by its caption. */
const group = (name: string) => screen.getByRole('table', { name });
/** The row of a node, by its id. */
const row = (table: HTMLElement, id: string) => within(table).getByRole('row', { name: new RegExp(`^${id}\\b`) });

describe('Cluster page', () => {
  it('lists the freshcache nodes per region with their figures, then the Redis servers', async () => {
    renderCluster();
    await screen.findByRole('table', { name: 'us-east' });
    const tables = screen.getAllByRole('table').map((table) => table.querySelector('caption')!.textContent);
    // Configured region order, the nodes serving no region last, the Redis servers after them.
    expect(tables).toEqual(['us-east', 'eu-west', 'No region (library instances, control)', 'Redis servers']);
    expect(within(group('us-east')).getAllByRole('row').slice(1).map((r) => r.querySelector('code')!.textContent)).toEqual(['us-east-1', 'us-east-2']);

    const usEast1 = row(group('us-east'), 'us-east-1');
    for (const figure of ['up', 'ok', '42 ms', '87.5 %', '1,234', '2.0 KiB', 'closed', '0.1.0', 'edge']) expect(within(usEast1).getByText(figure)).toBeTruthy();
    const euWest1 = row(group('eu-west'), 'eu-west-1');
    expect(within(euWest1).getByText('180 ms')).toBeTruthy();
    expect(within(euWest1).getByText('50.0 %')).toBeTruthy();
    expect(row(group('No region (library instances, control)'), 'billing-lib')).toBeTruthy();

    const redis = row(group('Redis servers'), '127.0.0.1:6390');
    for (const figure of ['master', 'online', '5,678', '3.0 MiB', '250/s']) expect(within(redis).getByText(figure)).toBeTruthy();
  });

  it('shows a down node as down, with its health and breaker', async () => {
    renderCluster();
    const usEast2 = row(await screen.findByRole('table', { name: 'us-east' }), 'us-east-2');
    expect(within(usEast2).getByText('down')).toBeTruthy();
    expect(within(usEast2).getByText('degraded')).toBeTruthy();
    expect(within(usEast2).getByText('open')).toBeTruthy();
    expect(within(row(group('us-east'), 'us-east-1')).queryByText('down')).toBeNull();
  });

  it('refreshes every few seconds: a node that stops heartbeating turns down', async () => {
    // Only intervals are faked: findBy* keeps its real timeouts.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let fleet: NodeList = { freshcache: [node('us-east-1')], redis: [] };
    const services = fakeServices((call) => {
      if (call.path === '/api/info') return { body: SERVER_INFO };
      return call.path === '/api/nodes' ? { body: fleet } : undefined;
    });
    render(<App services={services} hook={memoryLocation({ path: '/cluster' }).hook} />);
    const table = await screen.findByRole('table', { name: 'us-east' });
    expect(within(row(table, 'us-east-1')).getByText('up')).toBeTruthy();

    fleet = { freshcache: [node('us-east-1', { state: 'down' })], redis: [] };
    await act(() => vi.advanceTimersByTimeAsync(REFRESH_MS - 1));
    expect(within(row(table, 'us-east-1')).getByText('up')).toBeTruthy();
    await act(() => vi.advanceTimersByTimeAsync(1));
    expect(within(row(screen.getByRole('table', { name: 'us-east' }), 'us-east-1')).getByText('down')).toBeTruthy();
  });

  it('drains a node only after the confirmation, and sends nothing on Cancel (where the focus starts)', async () => {
    const user = userEvent.setup();
    const services = renderCluster((call) => (call.method === 'DELETE' ? { status: 202, body: { id: 'us-east-1', state: 'draining' } } : undefined));
    await user.click(await screen.findByRole('button', { name: 'Drain us-east-1' }));
    const dialog = screen.getByRole('alertdialog');
    expect(dialog.textContent).toContain('Drain us-east-1?');
    const deletes = () => services.calls.filter((call) => call.method === 'DELETE').map((call) => call.path);
    expect(deletes()).toEqual([]);

    // The focus starts on Cancel (a stray Enter drains nothing) and returns to Drain after it.
    expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Cancel' }));
    await user.keyboard('{Enter}');
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(deletes()).toEqual([]);
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Drain us-east-1' }));

    await user.click(screen.getByRole('button', { name: 'Drain us-east-1' }));
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Drain us-east-1' }));
    expect(deletes()).toEqual(['/api/nodes/us-east-1']);
    expect((await screen.findByText(/Draining us-east-1/)).getAttribute('role')).toBe('status');
  });

  it('shows the refusal of a drain with the server\'s code', async () => {
    const user = userEvent.setup();
    renderCluster((call) =>
      call.method === 'DELETE' ? { status: 503, body: { error: { code: 'node_unreachable', message: 'node "us-east-1" did not answer' } } } : undefined,
    );
    await user.click(await screen.findByRole('button', { name: 'Drain us-east-1' }));
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Drain us-east-1' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('node_unreachable');
    expect(alert.textContent).toContain('did not answer');
  });

  it("disables a library instance's drain and says why", async () => {
    renderCluster();
    const drain = await screen.findByRole('button', { name: 'Drain billing-lib' });
    expect((drain as HTMLButtonElement).disabled).toBe(true);
    expect(drain.getAttribute('aria-describedby')).toBeTruthy();
    expect(document.getElementById(drain.getAttribute('aria-describedby')!)!.textContent).toBe('A library instance: its service stops it.');
    expect((screen.getByRole('button', { name: 'Drain us-east-1' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('offers no chaos action where /api/chaos does not exist, and never asks it', async () => {
    const services = renderCluster();
    await screen.findByRole('table', { name: 'us-east' });
    expect(screen.queryByRole('heading', { name: 'Chaos' })).toBeNull();
    expect(screen.queryByRole('button', { name: /^Kill/ })).toBeNull();
    expect(services.calls.some((call) => call.path === '/api/chaos')).toBe(false);
  });

  it('lists the processes of an up deployment and sends a chaos action only after the confirmation', async () => {
    const user = userEvent.setup();
    const services = renderCluster(
      (call) => {
        if (call.path !== '/api/chaos') return undefined;
        if (call.method === 'GET') return { body: { services: SERVICES } };
        return { body: { ...SERVICES[1], state: 'running' } };
      },
      { ...SERVER_INFO, chaos: true },
    );
    const processes = await screen.findByRole('table', { name: 'Processes of this deployment' });
    expect(within(row(processes, 'us-east-1')).getByText('paused')).toBeTruthy();
    const posts = () => services.calls.filter((call) => call.method === 'POST').map((call) => call.body);

    await user.click(within(processes).getByRole('button', { name: 'Resume us-east-1' }));
    expect(posts()).toEqual([]);
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Resume us-east-1' }));
    expect(posts()).toEqual([{ action: 'resume', target: 'us-east-1' }]);

    await user.click(within(processes).getByRole('button', { name: 'Kill control' }));
    // Tab stays in the dialog: from Cancel to Kill control and back.
    const killDialog = screen.getByRole('alertdialog');
    await user.tab();
    expect(document.activeElement).toBe(within(killDialog).getByRole('button', { name: 'Kill control' }));
    await user.tab();
    expect(document.activeElement).toBe(within(killDialog).getByRole('button', { name: 'Cancel' }));
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(posts()).toEqual([{ action: 'resume', target: 'us-east-1' }]);
    await waitFor(() => expect(services.calls.filter((call) => call.method === 'GET' && call.path === '/api/chaos').length).toBeGreaterThan(1));
  });
});

/** A Redis Cluster of three primaries (the second without its replica) as GET /api/nodes lists it. */
function redisNode(id: string, port: number, extra: Partial<RedisNode>): RedisNode {
  return { ...REDIS, id, address: `127.0.0.1:${port}`, replicationOffset: 1_000, keys: 100, ...extra };
}
const CLUSTER_NODES: RedisNode[] = [
  redisNode('aaa', 7001, { slots: [[0, 5460]] }),
  redisNode('bbb', 7002, { slots: [[5461, 10922]] }),
  redisNode('ccc', 7003, { slots: [[10923, 16383]], keys: 4_321 }),
  redisNode('ddd', 7004, { role: 'replica', masterId: 'aaa', replicationOffset: 1_000 }),
  redisNode('fff', 7006, { role: 'replica', masterId: 'ccc', replicationOffset: 900 }),
];
const CLUSTER_INFO = { ...SERVER_INFO, features: { ...SERVER_INFO.features, cluster: true } };

function progress(extra: Partial<RebalanceProgress>): RebalanceProgress {
  return { operation: 'add-node', node: '127.0.0.1:7007', phase: 'moving', movedSlots: 1_024, plannedSlots: 4_096, moves: [], startedAt: 1_000, finishedAt: null, error: null, ...extra };
}

const FAILOVER: RedisFailover = { at: 5_000, failedNode: { id: 'bbb', address: '127.0.0.1:7002' }, promotedNode: { id: 'eee', address: '127.0.0.1:7005' }, slots: [[5461, 10922]] };

function renderRedisCluster(respond: (call: Call) => Answer | undefined = () => undefined, rebalance: RebalanceStatus = { running: false, progress: null }) {
  const services = fakeServices((call) => {
    if (call.path === '/api/info') return { body: CLUSTER_INFO };
    if (call.method === 'GET' && call.path === '/api/nodes') return { body: { freshcache: [], redis: CLUSTER_NODES } };
    if (call.method === 'GET' && call.path === '/api/rebalance') return { body: rebalance };
    const answer = respond(call);
    if (answer) return answer;
    if (call.method === 'GET' && call.path === '/api/failovers') return { body: { watching: true, lookedAt: 4_000, items: [] } };
    return undefined;
  });
  render(<App services={services} hook={memoryLocation({ path: '/cluster' }).hook} />);
  return services;
}

const posts = (services: { calls: Call[] }) => services.calls.filter((call) => call.method === 'POST').map((call) => call.body);

describe('Cluster page on a Redis Cluster', () => {
  it("draws the slot ring in each primary's colour, and lists each primary with its slots, keys and replicas", async () => {
    renderRedisCluster();
    const ring = await screen.findByRole('img', { name: /^Hash slot ring/ });
    const primaries = within(screen.getByRole('list', { name: 'Primaries' })).getAllByRole('listitem', { name: /^Primary / });
    expect(primaries.map((p) => p.getAttribute('aria-label'))).toEqual(['Primary 127.0.0.1:7001', 'Primary 127.0.0.1:7002', 'Primary 127.0.0.1:7003']);
    const colours = primaries.map((p) => p.querySelector('.swatch')!.getAttribute('data-colour'));
    expect(new Set(colours).size).toBe(3);
    // Each primary's range of the ring is drawn in its legend colour, and no slot is left grey.
    const arcs = [...ring.querySelectorAll('path')].map((path) => [path.getAttribute('data-primary'), path.getAttribute('fill')]);
    expect(arcs).toEqual([
      ['127.0.0.1:7001', colours[0]],
      ['127.0.0.1:7002', colours[1]],
      ['127.0.0.1:7003', colours[2]],
    ]);
    expect(ring.textContent).toContain('all served');

    expect(primaries[2]!.textContent).toContain('5,461 slots · 4,321 keys');
    expect(within(primaries[0]!).getByRole('list', { name: 'Replicas of 127.0.0.1:7001' }).textContent).toMatch(/127\.0\.0\.1:7004.*online.*offset 1,000 · in sync/);
    expect(within(primaries[1]!).getByText(/No replica/)).toBeTruthy();
    expect(within(primaries[2]!).getByRole('list', { name: 'Replicas of 127.0.0.1:7003' }).textContent).toContain('100 bytes behind');
  });

  it('keeps each primary in its colour when slots move to a new primary', async () => {
    let redis = CLUSTER_NODES;
    const services = fakeServices((call) => {
      if (call.path === '/api/info') return { body: CLUSTER_INFO };
      if (call.path === '/api/nodes') return { body: { freshcache: [], redis } };
      return call.path === '/api/rebalance' ? { body: { running: false, progress: null } } : { body: { watching: true, lookedAt: null, items: [] } };
    });
    render(<App services={services} hook={memoryLocation({ path: '/cluster' }).hook} />);
    const colourOf = (address: string) => screen.getByRole('listitem', { name: `Primary ${address}` }).querySelector('.swatch')!.getAttribute('data-colour');
    await screen.findByRole('listitem', { name: 'Primary 127.0.0.1:7003' });
    const before = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'].map(colourOf);

    // An added primary (a lower port, first in the legend) took the first slots of each.
    redis = [
      redisNode('aaa', 7001, { slots: [[1365, 5460]] }),
      redisNode('bbb', 7002, { slots: [[6827, 10922]] }),
      redisNode('ccc', 7003, { slots: [[12288, 16383]] }),
      redisNode('new', 7000, { slots: [[0, 1364], [5461, 6826], [10923, 12287]] }),
    ];
    act(() => services.emit('rebalance.progress', progress({ phase: 'done', finishedAt: 9_000 })));
    await screen.findByRole('listitem', { name: 'Primary 127.0.0.1:7000' });
    expect(['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'].map(colourOf)).toEqual(before);
    expect(before).not.toContain(colourOf('127.0.0.1:7000'));
  });

  it('greys the slots no primary serves', async () => {
    const services = fakeServices((call) => {
      if (call.path === '/api/info') return { body: CLUSTER_INFO };
      if (call.path === '/api/nodes') return { body: { freshcache: [], redis: [CLUSTER_NODES[0], CLUSTER_NODES[2]] } };
      return call.path === '/api/rebalance' ? { body: { running: false, progress: null } } : { body: { watching: true, lookedAt: null, items: [] } };
    });
    render(<App services={services} hook={memoryLocation({ path: '/cluster' }).hook} />);
    const ring = await screen.findByRole('img', { name: /^Hash slot ring/ });
    const unserved = [...ring.querySelectorAll('path')].filter((path) => path.getAttribute('data-primary') === '');
    expect(unserved.map((path) => path.querySelector('title')!.textContent)).toEqual(['slots 5461–10922: no primary serves them']);
    expect(ring.textContent).toContain('5,462 unserved');
  });

  it('shows a standalone Redis as one server owning every slot, with no resharding to offer', async () => {
    const services = renderCluster();
    const ring = await screen.findByRole('img', { name: 'Hash slot ring: 127.0.0.1:6390 16,384 slots' });
    expect(screen.getByText(/Standalone Redis: no hash slots/)).toBeTruthy();
    expect([...ring.querySelectorAll('path')].map((path) => path.getAttribute('data-primary'))).toEqual(['127.0.0.1:6390']);
    expect(screen.queryByRole('heading', { name: 'Resharding' })).toBeNull();
    expect(screen.queryByRole('button', { name: /^Remove/ })).toBeNull();
    expect(services.calls.some((call) => call.path === '/api/rebalance' || call.path === '/api/failovers')).toBe(false);
  });

  it('shows the running resharding as a progress bar, live, then the last one done or failed with its reason', async () => {
    const services = renderRedisCluster(undefined, { running: true, progress: progress({}) });
    const bar = await screen.findByRole('progressbar', { name: 'Adding 127.0.0.1:7007: slots moved' });
    expect([bar.getAttribute('value'), bar.getAttribute('max')]).toEqual(['1024', '4096']);
    // Every action waits while it runs.
    expect((screen.getByRole('button', { name: 'Rebalance' }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByRole('button', { name: 'Remove 127.0.0.1:7001' }) as HTMLButtonElement).disabled).toBe(true);

    act(() => services.emit('rebalance.progress', progress({ movedSlots: 3_000, moves: [{ from: '127.0.0.1:7001', to: '127.0.0.1:7007', slots: 1_365 }] })));
    expect(screen.getByRole('progressbar').getAttribute('value')).toBe('3000');
    expect(screen.getByText(/1,365 slots from/)).toBeTruthy();

    const reloads = () => services.calls.filter((call) => call.path === '/api/nodes').length;
    const before = reloads();
    act(() => services.emit('rebalance.progress', progress({ phase: 'done', movedSlots: 4_096, finishedAt: 9_000 })));
    expect(screen.queryByRole('progressbar')).toBeNull();
    expect(screen.getByText(/Last: add-node 127\.0\.0\.1:7007 done at .*, 4,096 slots moved\./)).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Rebalance' }) as HTMLButtonElement).disabled).toBe(false);
    // The ring is reloaded to show where the slots went.
    await waitFor(() => expect(reloads()).toBeGreaterThan(before));

    act(() => services.emit('rebalance.progress', progress({ operation: 'rebalance', node: null, phase: 'failed', finishedAt: 9_500, error: 'redis-cli exited 1: Nodes don\'t agree' })));
    expect(screen.getByText(/Last: rebalance failed at .* after 1,024 slots: redis-cli exited 1: Nodes don't agree/)).toBeTruthy();
  });

  it('adds a node, removes a primary and rebalances, each only after its confirmation', async () => {
    const user = userEvent.setup();
    const services = renderRedisCluster((call) => (call.method === 'POST' ? { status: 202, body: progress({ phase: 'joining', movedSlots: 0 }) } : undefined));
    const add = await screen.findByRole('button', { name: 'Add node' });
    expect((add as HTMLButtonElement).disabled).toBe(true);
    await user.type(screen.getByLabelText('New primary'), '127.0.0.1:7007');
    await user.click(add);
    expect(screen.getByRole('alertdialog').textContent).toContain('Add 127.0.0.1:7007 as a primary?');
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Cancel' }));
    expect(posts(services)).toEqual([]);
    await user.click(add);
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Add 127.0.0.1:7007' }));
    expect(posts(services)).toEqual([{ action: 'add-node', node: '127.0.0.1:7007' }]);
    // The 202's progress shows at once.
    expect((await screen.findByRole('progressbar', { name: 'Adding 127.0.0.1:7007: slots moved' })).getAttribute('value')).toBe('0');
    act(() => services.emit('rebalance.progress', progress({ phase: 'done', finishedAt: 9_000 })));

    await user.click(screen.getByRole('button', { name: 'Remove 127.0.0.1:7002' }));
    expect(screen.getByRole('alertdialog').textContent).toContain('Its 5,462 slots and their keys move to the other primaries first');
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Remove 127.0.0.1:7002' }));
    act(() => services.emit('rebalance.progress', progress({ operation: 'remove-node', node: '127.0.0.1:7002', phase: 'done', finishedAt: 9_000 })));
    await user.click(screen.getByRole('button', { name: 'Rebalance' }));
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Rebalance' }));
    expect(posts(services)).toEqual([{ action: 'add-node', node: '127.0.0.1:7007' }, { action: 'remove-node', node: '127.0.0.1:7002' }, { action: 'rebalance' }]);
  });

  it('keeps an event newer than the 202 it overtook: a rebalance done before its answer arrived shows done', async () => {
    const user = userEvent.setup();
    const started = progress({ operation: 'rebalance', node: null, plannedSlots: 0, movedSlots: 0, startedAt: 7_000 });
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    // The POST's answer is held until the test lets it go.
    let answer: () => void = () => {};
    const held: typeof fetch = async (input, init) => {
      if (init?.method === 'POST') return new Promise((resolve) => (answer = () => resolve(json(started, 202))));
      const path = new URL(String(input), 'http://dashboard.test').pathname;
      if (path === '/api/info') return json(CLUSTER_INFO);
      if (path === '/api/nodes') return json({ freshcache: [], redis: CLUSTER_NODES });
      if (path === '/api/rebalance') return json({ running: false, progress: null });
      return json({ watching: true, lookedAt: null, items: [] });
    };
    const fake = fakeServices(() => undefined);
    const services = { ...fake, api: new ApiClient('', held) };
    render(<App services={services} hook={memoryLocation({ path: '/cluster' }).hook} />);
    await user.click(await screen.findByRole('button', { name: 'Rebalance' }));
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Rebalance' }));
    act(() => fake.emit('rebalance.progress', { ...started, phase: 'done', finishedAt: 7_100 }));
    await act(async () => answer());
    await screen.findByText(/Rebalancing the slots/);
    expect(screen.getByText(/Last: rebalance done at/)).toBeTruthy();
    expect(screen.queryByRole('progressbar')).toBeNull();
  });

  it('on the control process of freshcache up, adds a primary that up starts when no address is given', async () => {
    const user = userEvent.setup();
    const services = fakeServices((call) => {
      if (call.path === '/api/info') return { body: { ...CLUSTER_INFO, chaos: true } };
      if (call.path === '/api/nodes') return { body: { freshcache: [], redis: CLUSTER_NODES } };
      if (call.path === '/api/chaos') return { body: { services: SERVICES } };
      if (call.method === 'POST') return { status: 202, body: progress({ node: '127.0.0.1:7010', phase: 'joining', movedSlots: 0 }) };
      return call.path === '/api/rebalance' ? { body: { running: false, progress: null } } : { body: { watching: true, lookedAt: null, items: [] } };
    });
    render(<App services={services} hook={memoryLocation({ path: '/cluster' }).hook} />);
    await screen.findByRole('table', { name: 'Processes of this deployment' });
    const add = screen.getByRole('button', { name: 'Add node' });
    expect((add as HTMLButtonElement).disabled).toBe(false);
    await user.click(add);
    expect(screen.getByRole('alertdialog').textContent).toContain('freshcache up starts a new redis-server');
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Add a new primary' }));
    expect(posts(services)).toEqual([{ action: 'add-node' }]);
    await screen.findByRole('progressbar', { name: 'Adding 127.0.0.1:7010: slots moved' });
  });

  it("shows a refused resharding with the server's code and message", async () => {
    const user = userEvent.setup();
    renderRedisCluster((call) =>
      call.method === 'POST' ? { status: 409, body: { error: { code: 'conflict', message: 'a rebalance is running: wait for it (GET /api/rebalance)' } } } : undefined,
    );
    await user.click(await screen.findByRole('button', { name: 'Rebalance' }));
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Rebalance' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('conflict');
    expect(alert.textContent).toContain('a rebalance is running: wait for it');
  });

  it('lists the failovers the server saw, and each new one as it happens, newest first', async () => {
    const older: RedisFailover = { ...FAILOVER, at: 2_000, failedNode: { id: 'ccc', address: '127.0.0.1:7003' }, promotedNode: { id: 'fff', address: '127.0.0.1:7006' }, slots: [[10923, 16383]] };
    const services = renderRedisCluster((call) => (call.path === '/api/failovers' ? { body: { watching: true, lookedAt: 4_000, items: [older] } } : undefined));
    const list = await screen.findByRole('list', { name: 'Failovers' });
    expect(list.textContent).toMatch(/127\.0\.0\.1:7003 failed over to 127\.0\.0\.1:7006 \(5,461 slots\)/);
    act(() => services.emit('redis.failover', FAILOVER));
    const items = within(screen.getByRole('list', { name: 'Failovers' })).getAllByRole('listitem');
    expect(items.map((item) => item.textContent)).toEqual([expect.stringMatching(/127\.0\.0\.1:7002 failed over to 127\.0\.0\.1:7005 \(5,462 slots\)/), expect.stringMatching(/7003 failed over to/)]);
  });
});
