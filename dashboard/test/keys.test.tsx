import { act, cleanup, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { memoryLocation } from 'wouter/memory-location';
import { App } from '../src/App';
import type { CacheItem, CachePage, InvalidationStatus } from '../src/api/types';
import { collectKeys } from '../src/pages/keys/collect-keys';
import { INITIAL_SEARCH } from '../src/pages/keys/key-search';
import { STATUS_POLL_MS, STATUS_POLLS } from '../src/lib/useStatusPoll';
import { keysCsv } from '../src/pages/keys/keys-csv';
import { toCsv } from '../src/lib/csv';
import { fakeServices, SERVER_INFO } from './fake-services';
import type { Call } from './fake-services';

const REGIONS = ['us-east', 'eu-west', 'ap-south'];

const info = SERVER_INFO;

function item(key: string, extra: Partial<CacheItem> = {}): CacheItem {
  return { key, tier: 'l1', state: 'fresh', version: 3, tags: ['news'], size: 120, ageMs: 1500, ttlMs: 58_500, value: { title: key }, ...extra };
}

type Answer = { status?: number; body?: unknown };

/** The query of a key-explorer call, or undefined for any other call (including GET /api/cache/:key). */
function listQuery(call: Call): URLSearchParams | undefined {
  const url = new URL(call.path, 'http://dashboard.test');
  return call.method === 'GET' && url.pathname === '/api/cache' ? url.searchParams : undefined;
}

function page(items: CacheItem[], cursor: string | null = null, region = 'us-east'): Answer {
  return { body: { region, items, cursor } satisfies CachePage };
}

function renderKeys(respond: (call: Call) => Answer | undefined, serverInfo = info) {
  const services = fakeServices((call) => (call.path === '/api/info' ? { body: serverInfo } : respond(call)));
  render(<App services={services} hook={memoryLocation({ path: '/keys' }).hook} />);
  return services;
}

const listCalls = (services: { calls: Call[] }) => services.calls.filter((call) => listQuery(call)).map((call) => call.path);

/** Waits for /api/info: the region select lists the configured regions from then on. */
const regionsLoaded = () => screen.findByRole('option', { name: 'ap-south' });

function status(id: number, keys: string[], applied: Record<string, number> = {}): InvalidationStatus {
  const regions = Object.fromEntries(
    REGIONS.map((name) => [name, { appliedAt: applied[name] ?? null, lagMs: applied[name] === undefined ? null : applied[name] - 1000, skipped: false }]),
  );
  return { id, source: 'purge', keys, tags: [], prefixes: [], committedAt: 1000, publishedAt: 1000, regions, complete: REGIONS.every((name) => name in applied) };
}

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe('Keys page: search and pages', () => {
  it('searches by prefix in the chosen region with the chosen page size and lists the entries', async () => {
    const user = userEvent.setup();
    const services = renderKeys((call) => {
      const query = listQuery(call);
      if (!query) return undefined;
      if (query.get('prefix') === 'content:') return page([item('content:1'), item('content:2', { state: 'stale', tier: 'l2', tags: ['news', 'sport'] })], null, 'eu-west');
      return page([item('session:9')]);
    });
    // Every key of the default region first.
    expect(await screen.findByRole('button', { name: 'session:9' })).toBeTruthy();
    await regionsLoaded();

    await user.selectOptions(screen.getByLabelText('Region'), 'eu-west');
    await user.selectOptions(screen.getByLabelText('Page size'), '100');
    await user.type(screen.getByLabelText('Key prefix'), 'content:{Enter}');

    expect(await screen.findByRole('button', { name: 'content:1' })).toBeTruthy();
    expect(listCalls(services)).toEqual(['/api/cache?limit=50', '/api/cache?region=eu-west&prefix=content%3A&limit=100']);
    expect(screen.queryByRole('button', { name: 'session:9' })).toBeNull();
    expect(screen.getByRole('heading', { name: 'Keys in eu-west' })).toBeTruthy();
    const stale = screen.getByRole('button', { name: 'content:2' }).closest('tr')!;
    expect(within(stale).getByText('stale').className).toContain('badge');
    expect(within(stale).getByText('L2')).toBeTruthy();
    expect(within(stale).getByText('news, sport')).toBeTruthy();
    expect(screen.getByText('No more keys after these.')).toBeTruthy();
  });

  it('follows the cursor with Next page and goes back through the cursors seen with Previous page', async () => {
    const user = userEvent.setup();
    const pages: Record<string, Answer> = {
      '': page([item('a:1'), item('a:2')], 'c2'),
      c2: page([item('b:1')], 'c3'),
      c3: page([item('c:1')], null),
    };
    const services = renderKeys((call) => {
      const query = listQuery(call);
      return query && pages[query.get('cursor') ?? ''];
    });
    const previous = () => screen.getByRole('button', { name: 'Previous page' }) as HTMLButtonElement;
    const next = () => screen.getByRole('button', { name: 'Next page' }) as HTMLButtonElement;

    await screen.findByRole('button', { name: 'a:1' });
    expect(previous().disabled).toBe(true);
    await user.click(next());
    await screen.findByRole('button', { name: 'b:1' });
    expect(screen.getByText('Page 2')).toBeTruthy();
    await user.click(next());
    await screen.findByRole('button', { name: 'c:1' });
    expect(screen.getByText('Page 3')).toBeTruthy();
    expect(screen.getByText('No more keys after these.')).toBeTruthy();
    expect(next().disabled).toBe(true);

    await user.click(previous());
    await screen.findByRole('button', { name: 'b:1' });
    await user.click(previous());
    await screen.findByRole('button', { name: 'a:1' });
    expect(screen.getByText('Page 1')).toBeTruthy();
    expect(previous().disabled).toBe(true);

    expect(listCalls(services)).toEqual([
      '/api/cache?limit=50',
      '/api/cache?cursor=c2&limit=50',
      '/api/cache?cursor=c3&limit=50',
      '/api/cache?cursor=c2&limit=50',
      '/api/cache?limit=50',
    ]);
  });

  it('says Loading… and holds the pager while a page is on its way, showing the page before until it comes', async () => {
    const user = userEvent.setup();
    const services = renderKeys((call) => (listQuery(call) ? page([item('a:1')], 'c2') : undefined));
    await screen.findByRole('button', { name: 'a:1' });
    let answer!: () => void;
    services.api.listKeys = () => new Promise((resolve) => (answer = () => resolve({ region: 'us-east', items: [item('b:1')], cursor: null })));
    const pager = () => within(screen.getByRole('navigation', { name: 'Pages of keys' })).getAllByRole<HTMLButtonElement>('button');

    await user.click(screen.getByRole('button', { name: 'Next page' }));
    expect(screen.getByText('Loading…')).toBeTruthy();
    expect(pager().map((button) => [button.textContent, button.disabled])).toEqual([
      ['Previous page', true],
      ['Next page', true],
      ['Reload', true],
    ]);
    expect(screen.getByRole('button', { name: 'a:1' })).toBeTruthy();

    await act(async () => answer());
    expect(await screen.findByRole('button', { name: 'b:1' })).toBeTruthy();
    expect(screen.queryByText('Loading…')).toBeNull();
    expect(pager().map((button) => [button.textContent, button.disabled])).toEqual([
      ['Previous page', false],
      ['Next page', true],
      ['Reload', false],
    ]);
  });

  it('searches by tag and explains an empty page that still has a cursor', async () => {
    const user = userEvent.setup();
    const services = renderKeys((call) => {
      const query = listQuery(call);
      if (!query) return undefined;
      if (query.get('tag') !== 'news') return page([]);
      return query.get('cursor') === 'k1' ? page([item('content:7')]) : page([], 'k1');
    });
    await regionsLoaded();
    await user.selectOptions(screen.getByLabelText('Search by'), 'tag');
    await user.type(screen.getByLabelText('Tag'), ' news {Enter}');

    expect(await screen.findByText(/examined up to 5,000 keys without a match.*keep going/)).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Next page' }));
    expect(await screen.findByRole('button', { name: 'content:7' })).toBeTruthy();
    expect(listCalls(services).slice(1)).toEqual(['/api/cache?region=us-east&tag=news&limit=50', '/api/cache?region=us-east&tag=news&cursor=k1&limit=50']);
  });

  it('shows the error of a refused search', async () => {
    const user = userEvent.setup();
    renderKeys((call) => {
      const query = listQuery(call);
      if (!query) return undefined;
      if (query.has('tag')) return { status: 400, body: { error: { code: 'invalid_tag', message: 'tag must match ^[A-Za-z0-9][A-Za-z0-9:._/-]{0,127}$' } } };
      return page([item('content:1')]);
    });
    await screen.findByRole('button', { name: 'content:1' });
    await user.selectOptions(screen.getByLabelText('Search by'), 'tag');
    await user.type(screen.getByLabelText('Tag'), '#bad{Enter}');

    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('invalid_tag');
    expect(alert.textContent).toContain('tag must match');
    // The rows of the previous search are not passed off as the answer to this one.
    expect(screen.queryByRole('button', { name: 'content:1' })).toBeNull();
  });
});

describe('Keys page: entry detail', () => {
  it('shows the value as JSON with the version and tags, and says when the key is no longer cached', async () => {
    const user = userEvent.setup();
    const value = { title: 'Hello', body: 'a, "quoted" body' };
    const lookups: Answer[] = [
      { body: { key: 'content:1', value: { title: 'Hello again' }, version: 4, tags: ['news'], state: 'STALE', tier: 'l2', ageMs: 2000 } },
      { status: 404, body: { error: { code: 'not_found', message: 'no such key' } } },
    ];
    const services = renderKeys((call) => {
      if (listQuery(call)) return page([item('content:1', { value, version: 3, tags: ['news', 'featured'] })]);
      if (call.path === '/api/cache/content%3A1?region=us-east') return lookups.shift();
      return undefined;
    });
    await user.click(await screen.findByRole('button', { name: 'content:1' }));

    const detail = screen.getByRole('region', { name: 'Entry' });
    expect(within(detail).getByLabelText('Value of content:1').textContent).toBe(JSON.stringify(value, null, 2));
    const field = (name: string) => within(detail).getByText(name).nextElementSibling!.textContent;
    expect(field('Version')).toBe('3');
    expect(field('Tags')).toBe('news, featured');
    expect(field('Tier')).toBe('L1');
    expect(field('State')).toBe('fresh');

    await user.click(within(detail).getByRole('button', { name: 'Refresh' }));
    await waitFor(() => expect(field('Version')).toBe('4'));
    expect(field('State')).toBe('stale');
    expect(field('Tier')).toBe('L2');
    expect(within(detail).getByLabelText('Value of content:1').textContent).toContain('Hello again');

    await user.click(within(detail).getByRole('button', { name: 'Refresh' }));
    expect(await within(detail).findByText('No longer cached')).toBeTruthy();
    expect(services.calls.filter((call) => call.path.startsWith('/api/cache/'))).toHaveLength(2);

    await user.click(within(detail).getByRole('button', { name: 'Close' }));
    expect(screen.queryByRole('region', { name: 'Entry' })).toBeNull();
  });
  it('gives the focus back to the key that opened the entry on Close', async () => {
    const user = userEvent.setup();
    renderKeys((call) => (listQuery(call) ? page([item('content:1'), item('content:2')]) : undefined));
    const opener = await screen.findByRole('button', { name: 'content:2' });
    await user.click(opener);
    const detail = screen.getByRole('region', { name: 'Entry' });
    expect(document.activeElement).toBe(within(detail).getByRole('heading', { name: /content:2/ }));

    await user.click(within(detail).getByRole('button', { name: 'Close' }));
    expect(screen.queryByRole('region', { name: 'Entry' })).toBeNull();
    expect(document.activeElement).toBe(opener);
  });
});

describe('Keys page: invalidate selected', () => {
  const keys = [item('content:1'), item('content:2'), item('content:3')];

  it('posts the selected keys after a confirmation, shows the id and each region applying it, and reloads when the region shown applied', async () => {
    const user = userEvent.setup();
    const services = renderKeys((call) => {
      if (listQuery(call)) return page(keys);
      if (call.method === 'POST' && call.path === '/api/invalidate') return { status: 202, body: status(7, (call.body as { keys: string[] }).keys) };
      return undefined;
    });
    await regionsLoaded();
    await screen.findByRole('button', { name: 'content:1' });
    expect(screen.getByRole('button', { name: 'Invalidate selected' }).getAttribute('aria-disabled')).toBe('true');

    await user.click(screen.getByLabelText('Select content:1'));
    await user.click(screen.getByLabelText('Select content:3'));
    await user.click(screen.getByRole('button', { name: 'Invalidate selected (2)' }));
    // Nothing is sent before the confirmation.
    expect(services.calls.some((call) => call.method === 'POST')).toBe(false);
    await user.click(screen.getByRole('button', { name: 'Invalidate 2 keys' }));

    expect(await screen.findByText('#7')).toBeTruthy();
    expect(services.calls.filter((call) => call.method === 'POST').map((call) => call.body)).toEqual([{ keys: ['content:1', 'content:3'] }]);
    expect(screen.getByText('0 selected')).toBeTruthy();

    const progress = screen.getByRole('list', { name: 'Regions of invalidation #7' });
    const regionBadge = (name: string) => within(progress).getByText(name).querySelector('.badge')!.textContent;
    expect(regionBadge('eu-west')).toBe('pending');

    act(() => services.emit('invalidation.applied', { ...status(7, ['content:1', 'content:3'], { 'eu-west': 1100 }), region: 'eu-west' }));
    expect(regionBadge('eu-west')).toBe('applied (100 ms)');
    expect(regionBadge('us-east')).toBe('pending');
    // Another region applying changes nothing in the region shown.
    expect(listCalls(services)).toHaveLength(1);

    act(() => services.emit('invalidation.applied', { ...status(7, ['content:1', 'content:3'], { 'eu-west': 1100, 'us-east': 1050 }), region: 'us-east' }));
    expect(regionBadge('us-east')).toBe('applied (50 ms)');
    await waitFor(() => expect(listCalls(services)).toHaveLength(2));

    // Someone else's invalidation is not ours to show.
    act(() => services.emit('invalidation.applied', { ...status(8, ['other']), region: 'us-east' }));
    expect(screen.queryByText('#8')).toBeNull();
  });

  it('keeps a region that applied before the POST answered', async () => {
    const user = userEvent.setup();
    const services = fakeServices((call) => (call.path === '/api/info' ? { body: info } : listQuery(call) ? page(keys) : undefined));
    // The POST's answer waits until the test lets it go, after an event for it.
    let answer!: (status: InvalidationStatus) => void;
    services.api.invalidate = () => new Promise((resolve) => (answer = resolve));
    render(<App services={services} hook={memoryLocation({ path: '/keys' }).hook} />);
    await regionsLoaded();
    await user.click(await screen.findByLabelText('Select content:2'));
    await user.click(screen.getByRole('button', { name: 'Invalidate selected (1)' }));
    await user.click(screen.getByRole('button', { name: 'Invalidate 1 key' }));

    act(() => services.emit('invalidation.applied', { ...status(9, ['content:2'], { 'ap-south': 1200 }), region: 'ap-south' }));
    await act(async () => answer(status(9, ['content:2'])));

    const progress = await screen.findByRole('list', { name: 'Regions of invalidation #9' });
    expect(within(progress).getByText('ap-south').querySelector('.badge')!.textContent).toBe('applied (200 ms)');
  });

  it('asks where each invalidation stands after a reconnect, and shows a failed answer', async () => {
    // Intervals stand still: the status polls never come, the lookups below answer the resyncs only.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const user = userEvent.setup();
    const lookups: Answer[] = [
      // Applied in eu-west while the stream was away: its event was lost.
      { body: status(7, ['content:1'], { 'eu-west': 1100 }) },
      { status: 503, body: { error: { code: 'store_unavailable', message: 'the log is down' } } },
    ];
    const services = renderKeys((call) => {
      if (listQuery(call)) return page(keys);
      if (call.method === 'POST' && call.path === '/api/invalidate') return { status: 202, body: status(7, ['content:1']) };
      if (call.path === '/api/invalidations/7') return lookups.shift();
      return undefined;
    });
    await regionsLoaded();
    await user.click(await screen.findByLabelText('Select content:1'));
    await user.click(screen.getByRole('button', { name: 'Invalidate selected (1)' }));
    await user.click(screen.getByRole('button', { name: 'Invalidate 1 key' }));
    const progress = await screen.findByRole('list', { name: 'Regions of invalidation #7' });
    const regionBadge = (name: string) => within(progress).getByText(name).querySelector('.badge')!.textContent;
    expect(regionBadge('eu-west')).toBe('pending');

    act(() => services.resync());
    await waitFor(() => expect(regionBadge('eu-west')).toBe('applied (100 ms)'));
    expect(regionBadge('us-east')).toBe('pending');

    act(() => services.resync());
    expect((await screen.findByRole('alert')).textContent).toContain('store_unavailable');
    // What was known stays.
    expect(regionBadge('eu-west')).toBe('applied (100 ms)');
  });

  describe('on a process that serves no region (the control process of freshcache up)', () => {
    // It has no 'invalidation.applied' events: only GET /api/invalidations/:id says where an invalidation stands.
    const control = { ...info, roles: { regions: [], relay: false } };
    const published: InvalidationStatus = { ...status(7, ['content:1']), regions: {}, complete: false };
    const polls = (services: { calls: Call[] }) => services.calls.filter((call) => call.path === '/api/invalidations/7').length;

    async function purgeContent1(lookups: (() => Answer)[]) {
      // Only intervals are faked: the test moves the polls on, user events and findBy* keep real time.
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      const user = userEvent.setup();
      const services = renderKeys((call) => {
        if (listQuery(call)) return page(keys);
        if (call.method === 'POST' && call.path === '/api/invalidate') return { status: 202, body: published };
        if (call.path === '/api/invalidations/7') return (lookups.length > 1 ? lookups.shift()! : lookups[0]!)();
        return undefined;
      }, control);
      await regionsLoaded();
      await user.click(await screen.findByLabelText('Select content:1'));
      await user.click(screen.getByRole('button', { name: 'Invalidate selected (1)' }));
      await user.click(screen.getByRole('button', { name: 'Invalidate 1 key' }));
      expect(await screen.findByText('#7')).toBeTruthy();
      return services;
    }

    it('asks the server until every region applied the invalidation, shows each region, and reloads the keys', async () => {
      const services = await purgeContent1([
        () => ({ body: status(7, ['content:1'], { 'eu-west': 1100 }) }),
        () => ({ body: status(7, ['content:1'], { 'eu-west': 1100, 'us-east': 1050, 'ap-south': 1300 }) }),
      ]);
      expect(screen.getByText(/applying…/)).toBeTruthy();
      expect(polls(services)).toBe(0);

      await act(() => vi.advanceTimersByTimeAsync(STATUS_POLL_MS));
      const progress = await screen.findByRole('list', { name: 'Regions of invalidation #7' });
      const regionBadge = (name: string) => within(progress).getByText(name).querySelector('.badge')!.textContent;
      await waitFor(() => expect(regionBadge('eu-west')).toBe('applied (100 ms)'));
      expect(regionBadge('us-east')).toBe('pending');
      expect(regionBadge('ap-south')).toBe('pending');
      // The region shown (us-east) has not applied it: the keys are not reloaded yet.
      expect(listCalls(services)).toHaveLength(1);

      await act(() => vi.advanceTimersByTimeAsync(STATUS_POLL_MS));
      await waitFor(() => expect(regionBadge('us-east')).toBe('applied (50 ms)'));
      expect(regionBadge('ap-south')).toBe('applied (300 ms)');
      expect(screen.getByText(/applied in every region\./)).toBeTruthy();
      await waitFor(() => expect(listCalls(services)).toHaveLength(2));

      // Applied everywhere: no more asking.
      await act(() => vi.advanceTimersByTimeAsync(10 * STATUS_POLL_MS));
      expect(polls(services)).toBe(2);
    });

    it('stops asking after 30 s when a region never applies it', async () => {
      const services = await purgeContent1([() => ({ body: status(7, ['content:1'], { 'eu-west': 1100 }) })]);
      await act(() => vi.advanceTimersByTimeAsync(STATUS_POLLS * STATUS_POLL_MS));
      expect(polls(services)).toBe(STATUS_POLLS);
      expect(STATUS_POLLS * STATUS_POLL_MS).toBe(30_000);

      await act(() => vi.advanceTimersByTimeAsync(10 * STATUS_POLL_MS));
      expect(polls(services)).toBe(STATUS_POLLS);
      expect(screen.getByText(/applying…/)).toBeTruthy();
    });
  });

  it('gives the focus back to the Invalidate selected button after Cancel and after the confirmation', async () => {
    const user = userEvent.setup();
    renderKeys((call) => {
      if (listQuery(call)) return page(keys);
      if (call.method === 'POST' && call.path === '/api/invalidate') return { status: 202, body: status(7, (call.body as { keys: string[] }).keys) };
      return undefined;
    });
    await regionsLoaded();
    await user.click(await screen.findByLabelText('Select content:1'));
    await user.click(screen.getByRole('button', { name: 'Invalidate selected (1)' }));
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Invalidate 1 key' }));

    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Invalidate selected (1)' }));

    await user.keyboard('{Enter}');
    await user.keyboard('{Enter}');
    expect(await screen.findByText('#7')).toBeTruthy();
    // The selection is cleared: the button stays, focused, unusable until keys are selected again.
    const trigger = screen.getByRole('button', { name: 'Invalidate selected' });
    expect(document.activeElement).toBe(trigger);
    expect(trigger.getAttribute('aria-disabled')).toBe('true');
    await user.click(trigger);
    expect(screen.queryByRole('group', { name: 'Confirm the invalidation' })).toBeNull();
  });

  it('selects every key of the page with the heading checkbox', async () => {
    const user = userEvent.setup();
    renderKeys((call) => (listQuery(call) ? page(keys) : undefined));
    await screen.findByRole('button', { name: 'content:1' });
    const all = screen.getByLabelText('Select every key on this page') as HTMLInputElement;

    await user.click(all);
    expect(keys.every((entry) => (screen.getByLabelText(`Select ${entry.key}`) as HTMLInputElement).checked)).toBe(true);
    expect(screen.getByRole('button', { name: 'Invalidate selected (3)' })).toBeTruthy();

    await user.click(screen.getByLabelText('Select content:2'));
    expect(all.checked).toBe(false);
    expect(all.indeterminate).toBe(true);

    await user.click(all);
    expect(all.checked).toBe(true);
    await user.click(all);
    expect(screen.getByRole('button', { name: 'Invalidate selected' })).toBeTruthy();
  });

  it('shows a refused invalidation', async () => {
    const user = userEvent.setup();
    renderKeys((call) => {
      if (listQuery(call)) return page(keys);
      if (call.method === 'POST') return { status: 503, body: { error: { code: 'store_unavailable', message: 'the log is down' } } };
      return undefined;
    });
    await user.click(await screen.findByLabelText('Select content:1'));
    await user.click(screen.getByRole('button', { name: 'Invalidate selected (1)' }));
    await user.click(screen.getByRole('button', { name: 'Invalidate 1 key' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('store_unavailable');
    // The selection stays, to try again.
    expect(screen.getByText('1 selected')).toBeTruthy();
  });
});

describe('Keys page: CSV export', () => {
  const createObjectURL = URL.createObjectURL;
  const revokeObjectURL = URL.revokeObjectURL;
  let blobs: Blob[];
  let saved: string[];

  beforeEach(() => {
    blobs = [];
    saved = [];
    // jsdom has no object URLs and does not navigate: record what would be downloaded instead.
    URL.createObjectURL = (blob: Blob) => {
      blobs.push(blob);
      return 'blob:keys';
    };
    URL.revokeObjectURL = () => {};
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      saved.push(this.download);
    });
  });

  afterEach(() => {
    URL.createObjectURL = createObjectURL;
    URL.revokeObjectURL = revokeObjectURL;
    vi.restoreAllMocks();
  });

  it('downloads every page of the current search, following cursors', async () => {
    const user = userEvent.setup();
    const services = renderKeys((call) => {
      const query = listQuery(call);
      if (!query) return undefined;
      if (query.get('cursor') === 'n1') return page([item('b', { version: null, tags: [] })], null, 'eu-west');
      return page([item('a,"1"', { tags: ['news', 'x:y'] })], 'n1', 'eu-west');
    });
    await screen.findByRole('button', { name: 'a,"1"' });
    await user.click(screen.getByRole('button', { name: 'Export CSV' }));

    expect(await screen.findByText('Exported 2 rows.')).toBeTruthy();
    expect(listCalls(services).slice(1)).toEqual(['/api/cache?limit=1000', '/api/cache?cursor=n1&limit=1000']);
    expect(saved).toEqual(['freshcache-keys-eu-west.csv']);
    expect(await blobs[0]!.text()).toBe(
      'key,region,tier,state,version,tags,ageMs,ttlMs,size\r\n"a,""1""",eu-west,l1,fresh,3,news x:y,1500,58500,120\r\nb,eu-west,l1,fresh,,,1500,58500,120\r\n',
    );
  });

  it('stops on an error and saves nothing', async () => {
    const user = userEvent.setup();
    renderKeys((call) => {
      const query = listQuery(call);
      if (!query) return undefined;
      if (query.get('cursor') === 'n1') return { status: 503, body: { error: { code: 'store_unavailable', message: 'L2 is down' } } };
      return page([item('a')], 'n1');
    });
    await screen.findByRole('button', { name: 'a' });
    await user.click(screen.getByRole('button', { name: 'Export CSV' }));

    expect((await screen.findByRole('alert')).textContent).toContain('store_unavailable');
    expect(screen.getByText('Export stopped after 1 row; nothing was saved.')).toBeTruthy();
    expect(blobs).toEqual([]);
  });
});

describe('keysCsv', () => {
  it('quotes keys with commas and quotes, joins tags with spaces and leaves a null version empty', () => {
    expect(keysCsv('ap-south', [item('post:"1",x', { tags: ['news', 'a:b'], version: null, tier: 'l2', state: 'invalid', size: 9, ageMs: 1, ttlMs: 2 })])).toBe(
      'key,region,tier,state,version,tags,ageMs,ttlMs,size\r\n"post:""1"",x",ap-south,l2,invalid,,news a:b,1,2,9\r\n',
    );
  });
});

describe('collectKeys', () => {
  it('keeps a key once when a later page lists it again (a walk of Redis lists each key at least once)', async () => {
    const services = fakeServices((call) => {
      const query = listQuery(call);
      return query && (query.get('cursor') ? page([item('b'), item('c')], null) : page([item('a'), item('b')], 'p2'));
    });
    const result = await collectKeys(services.api, { ...INITIAL_SEARCH, text: 'x' }, { cap: 10 });
    expect(result.items.map((entry) => entry.key)).toEqual(['a', 'b', 'c']);
    expect(result.more).toBe(false);
  });

  it('stops at the cap, asking only for the rows still missing', async () => {
    const services = fakeServices((call) => {
      const query = listQuery(call);
      return query && page(query.get('cursor') ? [item('c')] : [item('a'), item('b')], query.get('cursor') ? 'p3' : 'p2');
    });
    const result = await collectKeys(services.api, { ...INITIAL_SEARCH, text: 'x' }, { cap: 3 });
    expect(result.items.map((entry) => entry.key)).toEqual(['a', 'b', 'c']);
    expect(result.more).toBe(true);
    expect(services.calls.map((call) => call.path)).toEqual(['/api/cache?prefix=x&limit=3', '/api/cache?prefix=x&cursor=p2&limit=1']);
  });
});

describe('toCsv', () => {
  it('puts a single quote before text a spreadsheet would run as a formula, and leaves numbers alone', () => {
    const rows = [['=HYPERLINK("http://x","y")'], ['+1'], ['-2'], ['@SUM(A1)'], ['\t=1'], ['\r=1'], ['a=b'], [-3]];
    expect(toCsv(['key'], rows)).toBe(`key\r\n"'=HYPERLINK(""http://x"",""y"")"\r\n'+1\r\n'-2\r\n'@SUM(A1)\r\n'\t=1\r\n"'\r=1"\r\na=b\r\n-3\r\n`);
  });

  it('escapes the keys and tags of the keys export', () => {
    expect(keysCsv('us-east', [item('=cmd', { tags: ['@news', 'x'] })]).split('\r\n')[1]).toBe("'=cmd,us-east,l1,fresh,3,'@news x,1500,58500,120");
  });
});
