import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryLocation } from 'wouter/memory-location';
import { App } from '../src/App';
import type { HistoryRegionPoint, MetricsHistory, MetricsSnapshot, RegionMetrics } from '../src/api/types';
import { ServicesProvider } from '../src/lib/api-context';
import { OverviewPage } from '../src/pages/overview/OverviewPage';
import { fakeServices, SERVER_INFO } from './fake-services';
import type { Call } from './fake-services';

const info = SERVER_INFO;

function point(values: Partial<HistoryRegionPoint>): HistoryRegionPoint {
  return {
    requestsPerSec: 10,
    hitRatio: 0.9,
    latencyP50: 1,
    latencyP95: 2,
    latencyP99: 3,
    originFetchesPerSec: 1,
    staleReadsPerSec: 0,
    lagP50: null,
    lagP99: null,
    ...values,
  };
}

// Two steps; the last has no invalidation applied, so the lag caption must show the step before.
const history: MetricsHistory = {
  window: '1m',
  stepMs: 1000,
  points: [
    { t: 1_795_508_000_000, regions: { 'eu-west': point({ hitRatio: 0.5, lagP50: 310, lagP99: 340 }), 'us-east': point({ lagP50: 101, lagP99: 120 }) } },
    {
      t: 1_795_508_001_000,
      regions: {
        'eu-west': point({ hitRatio: 0.8, latencyP50: 4, latencyP99: 41, originFetchesPerSec: 2.5, staleReadsPerSec: 0.5 }),
        'us-east': point({ hitRatio: 0.95, latencyP50: 0.25, latencyP99: 12, originFetchesPerSec: 0.5 }),
      },
    },
  ],
};

const idleHistory: MetricsHistory = {
  window: '1m',
  stepMs: 1000,
  points: [{ t: 1_795_508_000_000, regions: { 'us-east': point({ requestsPerSec: 0, hitRatio: null, latencyP50: null, latencyP95: null, latencyP99: null, originFetchesPerSec: 0 }) } }],
};

function regionMetrics(values: Partial<RegionMetrics>): RegionMetrics {
  const none = { count: 0, p50: null, p90: null, p95: null, p99: null };
  return {
    requests: { l1Hits: 0, l2Hits: 0, misses: 0, staleServed: 0, originFetches: 0, originErrors: 0, staleSetsRefused: 0, negativeHits: 0, revalidations: 0, invalidationsApplied: 0, flushes: 0, l1Evictions: 0, l2Evictions: 0 },
    hitRatio: null,
    latencyMs: none,
    invalidationLagMs: none,
    entries: {},
    bytes: {},
    ...values,
  };
}

const snapshot: MetricsSnapshot = {
  at: '2026-11-24T08:19:25.428Z',
  regions: {
    'us-east': regionMetrics({ hitRatio: 0.975, latencyMs: { count: 9, p50: 1, p90: 5, p95: 7, p99: 12 }, invalidationLagMs: { count: 2, p50: 98, p90: 120, p95: 120, p99: 130 }, entries: { l1: 42, l2: 40 } }),
    'eu-west': regionMetrics({ hitRatio: 0.5 }),
  },
};

/** The history of `window` with us-east's latest hit ratio set to `hitRatio`. */
function withUsEastHitRatio(window: MetricsHistory['window'], hitRatio: number): MetricsHistory {
  const last = history.points.at(-1)!;
  return { ...history, window, points: [...history.points.slice(0, -1), { ...last, regions: { ...last.regions, 'us-east': point({ hitRatio }) } }] };
}

function answers(historyBody: MetricsHistory = history) {
  return (call: Call) => {
    if (call.path === '/api/info') return { body: info };
    if (call.path === '/api/metrics') return { body: snapshot };
    if (call.path.startsWith('/api/metrics/history')) return { body: historyBody };
    return undefined;
  };
}

const historyCalls = (calls: Call[]) => calls.filter((call) => call.path.startsWith('/api/metrics/history')).map((call) => call.path);

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe('Overview page', () => {
  it('shows the latest figure of each region in each chart caption, and the snapshot per region', async () => {
    const services = fakeServices(answers());
    render(<App services={services} hook={memoryLocation({ path: '/' }).hook} />);

    const hitRatio = await screen.findByRole('figure', { name: 'Hit ratio' });
    // Regions in the configuration's order (us-east first), not the order the history lists them.
    expect(hitRatio.textContent).toContain('Latest: us-east 95.0 %, eu-west 80.0 %');
    expect(screen.getByRole('figure', { name: 'Origin load' }).textContent).toContain('us-east 0.5/s, eu-west 2.5/s');
    expect(screen.getByRole('figure', { name: 'Stale reads' }).textContent).toContain('us-east 0.0/s, eu-west 0.5/s');
    expect(screen.getByRole('figure', { name: 'Invalidation lag p50' }).textContent).toContain('us-east 101 ms, eu-west 310 ms');

    const latency = screen.getByRole('figure', { name: 'Latency p50' });
    expect(latency.textContent).toContain('us-east 0.25 ms, eu-west 4 ms');
    fireEvent.click(within(latency).getByRole('button', { name: 'p99' }));
    expect(screen.getByRole('figure', { name: 'Latency p99' }).textContent).toContain('us-east 12 ms, eu-west 41 ms');

    const usEast = screen.getByRole('region', { name: 'us-east now' });
    expect(within(usEast).getByText('Hit ratio').nextElementSibling?.textContent).toBe('97.5 %');
    expect(within(usEast).getByText('Latency p99').nextElementSibling?.textContent).toBe('12 ms');
    expect(within(usEast).getByText('Invalidation lag p50').nextElementSibling?.textContent).toBe('98 ms');
    expect(within(usEast).getByText('Entries L1').nextElementSibling?.textContent).toBe('42');
    expect(within(screen.getByRole('region', { name: 'eu-west now' })).getByText('Hit ratio').nextElementSibling?.textContent).toBe('50.0 %');
  });

  it('fetches the window picked', async () => {
    const services = fakeServices(answers());
    render(
      <ServicesProvider services={services}>
        <OverviewPage />
      </ServicesProvider>,
    );
    await screen.findByRole('figure', { name: 'Hit ratio' });
    expect(historyCalls(services.calls)).toEqual(['/api/metrics/history?window=1m']);

    const windows = screen.getByRole('group', { name: 'Window' });
    fireEvent.click(within(windows).getByRole('button', { name: '5 min' }));
    expect(await screen.findByRole('heading', { name: 'Last 5 min' })).toBeTruthy();
    expect(within(windows).getByRole('button', { name: '5 min' }).getAttribute('aria-pressed')).toBe('true');
    expect(within(windows).getByRole('button', { name: '1 min' }).getAttribute('aria-pressed')).toBe('false');
    expect(historyCalls(services.calls)).toEqual(['/api/metrics/history?window=1m', '/api/metrics/history?window=5m']);
  });

  it('shows the window picked once it answers, not the window before answering late', async () => {
    const services = fakeServices(answers());
    const pending = new Map<string, (history: MetricsHistory) => void>();
    services.api.metricsHistory = (window) => new Promise((resolve) => pending.set(window, resolve));
    render(
      <ServicesProvider services={services}>
        <OverviewPage />
      </ServicesProvider>,
    );
    // The user picks 5 min while 1 min is still on its way.
    fireEvent.click(within(screen.getByRole('group', { name: 'Window' })).getByRole('button', { name: '5 min' }));
    await act(async () => pending.get('5m')!(withUsEastHitRatio('5m', 0.5)));
    expect(screen.getByRole('figure', { name: 'Hit ratio' }).textContent).toContain('us-east 50.0 %');

    await act(async () => pending.get('1m')!(withUsEastHitRatio('1m', 0.25)));
    expect(screen.getByRole('figure', { name: 'Hit ratio' }).textContent).toContain('us-east 50.0 %');
  });

  it('says Loading… for the window picked after the window before failed', async () => {
    const services = fakeServices(answers());
    let answer!: () => void;
    services.api.metricsHistory = (window) =>
      window === '1m' ? Promise.reject(new Error('history is down')) : new Promise((resolve) => (answer = () => resolve(withUsEastHitRatio(window, 0.5))));
    render(
      <ServicesProvider services={services}>
        <OverviewPage />
      </ServicesProvider>,
    );
    const history = screen.getByRole('region', { name: 'Last 1 min' });
    expect((await within(history).findByRole('alert')).textContent).toContain('history is down');
    expect(within(history).queryByText('Loading…')).toBeNull();

    fireEvent.click(within(history).getByRole('button', { name: '5 min' }));
    expect(within(history).getByText('Loading…')).toBeTruthy();
    await act(async () => answer());
    expect(within(history).queryByText('Loading…')).toBeNull();
    expect(within(history).getByRole('figure', { name: 'Hit ratio' }).textContent).toContain('us-east 50.0 %');
  });

  it('refreshes every 2 s, every 10 s for the hour, and stops when it leaves the page', async () => {
    // Only intervals are faked: findBy* keeps its real timeouts.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const services = fakeServices(answers());
    const { unmount } = render(
      <ServicesProvider services={services}>
        <OverviewPage />
      </ServicesProvider>,
    );
    await screen.findByRole('figure', { name: 'Hit ratio' });
    const count = (path: string) => services.calls.filter((call) => call.path === path).length;
    expect(count('/api/metrics/history?window=1m')).toBe(1);

    // The fake fetch records a call as it is made, so the counts hold right after the tick; the
    // async advances let the answers land, so that the next ticks are not skipped.
    await act(() => vi.advanceTimersByTimeAsync(2_000));
    expect(count('/api/metrics/history?window=1m')).toBe(2);
    expect(count('/api/metrics')).toBe(2);

    fireEvent.click(screen.getByRole('button', { name: '1 h' }));
    expect(count('/api/metrics/history?window=1h')).toBe(1);
    await act(() => vi.advanceTimersByTimeAsync(9_999));
    expect(count('/api/metrics/history?window=1h')).toBe(1);
    await act(() => vi.advanceTimersByTimeAsync(1));
    expect(count('/api/metrics/history?window=1h')).toBe(2);
    await screen.findByRole('heading', { name: 'Last 1 h' });

    unmount();
    const before = services.calls.length;
    vi.advanceTimersByTime(60_000);
    expect(services.calls.length).toBe(before);
  });

  it('waits for a history answer slower than the interval instead of asking again, and shows it', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const services = fakeServices(answers());
    render(
      <ServicesProvider services={services}>
        <OverviewPage />
      </ServicesProvider>,
    );
    await screen.findByRole('figure', { name: 'Hit ratio' });
    // From now on the history answers only when the test lets it.
    const slow: ((history: MetricsHistory) => void)[] = [];
    services.api.metricsHistory = () => new Promise((resolve) => slow.push(resolve));
    const snapshots = () => services.calls.filter((call) => call.path === '/api/metrics').length;

    await act(() => vi.advanceTimersByTimeAsync(2_000));
    expect(slow).toHaveLength(1);
    await act(() => vi.advanceTimersByTimeAsync(6_000));
    expect(slow).toHaveLength(1);
    // The snapshot is polled on its own.
    expect(snapshots()).toBe(5);

    const last = history.points.at(-1)!;
    await act(async () => slow[0]!({ ...history, points: [...history.points, { t: last.t + 1000, regions: { ...last.regions, 'us-east': point({ hitRatio: 0.5 }) } }] }));
    expect(screen.getByRole('figure', { name: 'Hit ratio' }).textContent).toContain('us-east 50.0 %');
    await act(() => vi.advanceTimersByTimeAsync(2_000));
    expect(slow).toHaveLength(2);
  });

  it('says there are no reads yet instead of drawing empty charts', async () => {
    const services = fakeServices(answers(idleHistory));
    render(
      <ServicesProvider services={services}>
        <OverviewPage />
      </ServicesProvider>,
    );
    expect((await screen.findByRole('status')).textContent).toContain('No reads yet in the last 1 min');
    expect(screen.queryByRole('figure')).toBeNull();
  });

  it('shows the errors of the history and of the snapshot', async () => {
    const services = fakeServices((call) =>
      call.path.startsWith('/api/metrics/history')
        ? { status: 404, body: { error: { code: 'not_found', message: 'no route GET /api/metrics/history' } } }
        : call.path === '/api/metrics'
          ? { status: 503, body: { error: { code: 'store_unavailable', message: 'redis is down' } } }
          : undefined,
    );
    render(
      <ServicesProvider services={services}>
        <OverviewPage />
      </ServicesProvider>,
    );
    await screen.findByText(/no route GET \/api\/metrics\/history/);
    const alerts = screen.getAllByRole('alert').map((alert) => alert.textContent);
    expect(alerts).toEqual(expect.arrayContaining([expect.stringContaining('store_unavailable'), expect.stringContaining('not_found')]));
  });
});
