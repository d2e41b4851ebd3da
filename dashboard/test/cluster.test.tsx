import { act, cleanup, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryLocation } from 'wouter/memory-location';
import { App } from '../src/App';
import type { ChaosService, FreshcacheNode, NodeList, RedisNode } from '../src/api/types';
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
