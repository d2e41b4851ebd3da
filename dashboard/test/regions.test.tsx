import { act, cleanup, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ContentRecord, InvalidationStatus, RegionSettings } from '../src/api/types';
import { ServicesProvider } from '../src/lib/api-context';
import { RegionsPage } from '../src/pages/regions/RegionsPage';
import { STATUS_POLL_MS } from '../src/lib/useStatusPoll';
import { fakeServices } from './fake-services';
import type { Call } from './fake-services';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

const REGIONS: RegionSettings[] = [
  // Out of delay order on purpose: the page sorts them.
  { name: 'ap-south', delayMs: 600, jitter: 0, strategy: 'eager', mode: 'cdc', ttlMs: 60_000, maxStaleMs: 30_000, negativeTtlMs: 5_000, served: true },
  { name: 'us-east', delayMs: 100, jitter: 0, strategy: 'eager', mode: 'cdc', ttlMs: 60_000, maxStaleMs: 30_000, negativeTtlMs: 5_000, served: true },
  { name: 'eu-west', delayMs: 300, jitter: 0, strategy: 'eager', mode: 'cdc', ttlMs: 60_000, maxStaleMs: 30_000, negativeTtlMs: 5_000, served: true },
];

const ARTICLE: ContentRecord = { id: 7, slug: 'article-7', title: 'Article 7', body: '', tags: ['news'], version: 41, updatedAt: '2026-11-24T08:00:00.000Z' };

const COMMITTED = 1_795_508_365_428;

function published(id: number, keys: string[], version?: number): InvalidationStatus {
  const pending = { appliedAt: null, lagMs: null, skipped: false };
  return {
    id,
    source: version === undefined ? 'purge' : 'cdc',
    keys,
    tags: [],
    prefixes: [],
    version,
    committedAt: COMMITTED,
    publishedAt: COMMITTED + 2,
    regions: { 'us-east': pending, 'eu-west': pending, 'ap-south': pending },
    complete: false,
  };
}

/** The status after `region` applied it `lagMs` after the commit, as the 'invalidation.applied' event carries it. */
function applied(status: InvalidationStatus, region: string, lagMs: number, skipped = false): InvalidationStatus & { region: string } {
  const regions = { ...status.regions, [region]: { appliedAt: COMMITTED + lagMs, lagMs, skipped } };
  return { ...status, regions, complete: Object.values(regions).every((r) => r.appliedAt !== null), region };
}

function renderPage(respond: (call: Call) => ReturnType<Parameters<typeof fakeServices>[0]> = () => undefined) {
  const services = fakeServices((call) => {
    if (call.method === 'GET' && call.path === '/api/regions') return { body: { items: REGIONS } };
    if (call.method === 'GET' && call.path === '/api/content?limit=50') return { body: { items: [ARTICLE], cursor: null } };
    return respond(call);
  });
  render(
    <ServicesProvider services={services}>
      <RegionsPage />
    </ServicesProvider>,
  );
  return services;
}

/** A region's card: its name, settings and its state for the followed invalidation, in words. */
const card = (name: string) => screen.getByRole('listitem', { name });

describe('Regions page', () => {
  it('lists the regions in delay order with their settings', async () => {
    renderPage();
    await screen.findByRole('listitem', { name: 'us-east' });
    expect(screen.getAllByRole('heading', { level: 3 }).map((h) => h.textContent)).toEqual(['us-east', 'eu-west', 'ap-south']);
    expect(within(card('ap-south')).getByText(/delay 600 ms/)).toBeTruthy();
  });

  it('shows a region this process does not serve with its settings, and changes it through this process (the change reaches its nodes on the log)', async () => {
    const services = fakeServices((call) => {
      if (call.method === 'GET' && call.path === '/api/regions') return { body: { items: REGIONS.map((r) => ({ ...r, served: r.name !== 'eu-west' })) } };
      if (call.method === 'GET' && call.path === '/api/content?limit=50') return { body: { items: [ARTICLE], cursor: null } };
      if (call.method === 'PATCH') return { body: { ...REGIONS[2], ...(call.body as object), served: false } };
      return undefined;
    });
    render(
      <ServicesProvider services={services}>
        <RegionsPage />
      </ServicesProvider>,
    );
    const select = await screen.findByLabelText<HTMLSelectElement>('Strategy of eu-west');
    expect(within(card('eu-west')).getByText(/served by other processes/)).toBeTruthy();
    await userEvent.selectOptions(select, 'lazy');
    await waitFor(() => expect(select.value).toBe('lazy'));
    expect(services.calls).toContainEqual({ method: 'PATCH', path: '/api/regions/eu-west', body: { strategy: 'lazy' } });
  });

  it('switches a region to lazy with PATCH /api/regions/<name> and shows what the server answered', async () => {
    const services = renderPage((call) => (call.method === 'PATCH' ? { body: { ...REGIONS[2], ...(call.body as object) } } : undefined));
    const select = await screen.findByLabelText<HTMLSelectElement>('Strategy of eu-west');
    await userEvent.selectOptions(select, 'lazy');
    await waitFor(() => expect(select.value).toBe('lazy'));
    expect(services.calls).toContainEqual({ method: 'PATCH', path: '/api/regions/eu-west', body: { strategy: 'lazy' } });
  });

  it('shows the error when a region change is refused, and keeps the old value', async () => {
    renderPage((call) => (call.method === 'PATCH' ? { status: 400, body: { error: { code: 'bad_request', message: 'mode must be cdc or ttl' } } } : undefined));
    const select = await screen.findByLabelText<HTMLSelectElement>('Mode of us-east');
    await userEvent.selectOptions(select, 'ttl');
    expect((await screen.findByRole('alert')).textContent).toContain('mode must be cdc or ttl');
    expect(select.value).toBe('cdc');
  });

  it('follows region.updated events', async () => {
    const services = renderPage();
    const select = await screen.findByLabelText<HTMLSelectElement>('Mode of ap-south');
    const { name: _name, ...settings } = REGIONS[0]!;
    act(() => services.emit('region.updated', { name: 'ap-south', settings: { ...settings, mode: 'ttl' } }));
    expect(select.value).toBe('ttl');
  });

  it('keeps a region.updated that arrived while a reload was on its way, over the older settings it answers', async () => {
    const services = renderPage();
    const mode = await screen.findByLabelText<HTMLSelectElement>('Mode of ap-south');
    // The reload after a reconnect answers after the event, with the settings as they were when
    // asked: ap-south still in cdc, and us-east switched to lazy while the stream was away.
    const reloaded = REGIONS.map((r) => (r.name === 'us-east' ? { ...r, strategy: 'lazy' as const } : r));
    let answer!: () => void;
    services.api.regions = () => new Promise((resolve) => (answer = () => resolve(reloaded)));
    act(() => services.resync());
    const { name: _name, ...settings } = REGIONS[0]!;
    act(() => services.emit('region.updated', { name: 'ap-south', settings: { ...settings, mode: 'ttl' } }));
    expect(mode.value).toBe('ttl');

    await act(async () => answer());
    await waitFor(() => expect(screen.getByLabelText<HTMLSelectElement>('Strategy of us-east').value).toBe('lazy'));
    expect(mode.value).toBe('ttl');
  });

  it('shows what a reload after a reconnect answers over the settings received before it was asked', async () => {
    const services = renderPage();
    const mode = await screen.findByLabelText<HTMLSelectElement>('Mode of ap-south');
    const { name: _name, ...settings } = REGIONS.find((r) => r.name === 'ap-south')!;
    act(() => services.emit('region.updated', { name: 'ap-south', settings: { ...settings, mode: 'ttl' } }));
    expect(mode.value).toBe('ttl');
    // While the stream was away ap-south went back to cdc: the reload says so.
    act(() => services.resync());
    await waitFor(() => expect(mode.value).toBe('cdc'));
  });

  it("edits the article and shows each region applying the edit's invalidation, with its lag and landing order", async () => {
    const services = renderPage((call) => (call.method === 'PUT' ? { body: { ...ARTICLE, ...(call.body as object), version: 42 } } : undefined));
    await userEvent.click(await screen.findByRole('button', { name: 'Edit article' }));

    await waitFor(() => expect(services.calls.some((c) => c.method === 'PUT')).toBe(true));
    const put = services.calls.find((c) => c.method === 'PUT')!;
    expect(put.path).toBe('/api/content/7');
    expect((put.body as { title: string }).title).toMatch(/^Article 7 · edited \d\d:\d\d:\d\d$/);
    expect(await screen.findByText(/waiting for its invalidation/)).toBeTruthy();

    // Another article's invalidation is not the one this page follows.
    act(() => services.emit('invalidation.published', published(30, ['content:8'], 43)));
    expect(within(card('us-east')).getByText('none followed yet')).toBeTruthy();

    let status = published(31, ['content:7'], 42);
    act(() => services.emit('invalidation.published', status));
    for (const name of ['us-east', 'eu-west', 'ap-south']) expect(within(card(name)).getByText('pending')).toBeTruthy();

    for (const [region, lag] of [['us-east', 103], ['eu-west', 305], ['ap-south', 611]] as const) {
      const event = applied(status, region, lag);
      status = event;
      act(() => services.emit('invalidation.applied', event));
    }
    expect(within(card('us-east')).getByText('applied +103 ms')).toBeTruthy();
    expect(within(card('us-east')).getByText('1st')).toBeTruthy();
    expect(within(card('eu-west')).getByText('applied +305 ms')).toBeTruthy();
    expect(within(card('eu-west')).getByText('2nd')).toBeTruthy();
    expect(within(card('ap-south')).getByText('applied +611 ms')).toBeTruthy();
    expect(within(card('ap-south')).getByText('3rd')).toBeTruthy();
    expect(screen.getByText(/invalidation #31 .* landed in us-east → eu-west → ap-south \(complete\)/)).toBeTruthy();
  });

  it('finds the invalidation when its event arrives before the answer to the edit', async () => {
    let services: ReturnType<typeof fakeServices> | undefined = undefined;
    services = renderPage((call) => {
      if (call.method !== 'PUT') return undefined;
      services!.emit('invalidation.published', published(40, ['content:7'], 42));
      return { body: { ...ARTICLE, version: 42 } };
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Edit article' }));
    await waitFor(() => expect(within(card('eu-west')).getByText('pending')).toBeTruthy());
    act(() => services!.emit('invalidation.applied', applied(published(40, ['content:7'], 42), 'eu-west', 290)));
    expect(within(card('eu-west')).getByText('applied +290 ms')).toBeTruthy();
  });

  it('shows a region in ttl mode that skipped the invalidation as skipped, outside the landing order', async () => {
    const services = renderPage((call) => (call.method === 'POST' && call.path === '/api/invalidate' ? { status: 202, body: published(50, ['content:7']) } : undefined));
    await userEvent.type(await screen.findByLabelText('Tag'), 'news');
    await userEvent.click(screen.getByRole('button', { name: 'Purge' }));
    await waitFor(() => expect(within(card('ap-south')).getByText('pending')).toBeTruthy());
    expect(services.calls).toContainEqual({ method: 'POST', path: '/api/invalidate', body: { tags: ['news'] } });

    let status = published(50, ['content:7']);
    for (const [region, lag, skipped] of [['us-east', 101, true], ['eu-west', 302, false], ['ap-south', 604, false]] as const) {
      const event = applied(status, region, lag, skipped);
      status = event;
      act(() => services.emit('invalidation.applied', event));
    }
    expect(within(card('us-east')).getByText('skipped (ttl)')).toBeTruthy();
    expect(within(card('us-east')).queryByText(/1st|2nd|3rd/)).toBeNull();
    expect(within(card('eu-west')).getByText('1st')).toBeTruthy();
    expect(within(card('ap-south')).getByText('2nd')).toBeTruthy();
    expect(screen.getByText(/Purge of tag news: .* landed in eu-west → ap-south; skipped in us-east \(ttl mode\) \(complete\)/)).toBeTruthy();
  });

  it('shows a refused purge instead of following anything', async () => {
    renderPage((call) => (call.method === 'POST' ? { status: 400, body: { error: { code: 'invalid_tag', message: 'tag "no tags" is not valid' } } } : undefined));
    await userEvent.type(await screen.findByLabelText('Tag'), 'no tags');
    await userEvent.click(screen.getByRole('button', { name: 'Purge' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('invalid_tag');
    expect(screen.queryByText(/waiting for its invalidation/)).toBeNull();
  });

  it('asks the server where the followed invalidation stands after the event stream reconnects', async () => {
    // Intervals stand still: no status poll answers in place of the resync.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const services = renderPage((call) => {
      if (call.method === 'POST') return { status: 202, body: published(60, ['content:7']) };
      if (call.path === '/api/invalidations/60') return { body: applied(applied(published(60, ['content:7']), 'us-east', 99), 'eu-west', 301) };
      return undefined;
    });
    await userEvent.type(await screen.findByLabelText('Tag'), 'news');
    await userEvent.click(screen.getByRole('button', { name: 'Purge' }));
    await waitFor(() => expect(within(card('us-east')).getByText('pending')).toBeTruthy());
    act(() => services.resync());
    expect(await within(card('eu-west')).findByText('applied +301 ms')).toBeTruthy();
    expect(within(card('us-east')).getByText('applied +99 ms')).toBeTruthy();
    expect(within(card('ap-south')).getByText('pending')).toBeTruthy();
  });

  it('asks the server until every region applied the followed invalidation, where no event comes for them', async () => {
    // The control process of freshcache up serves no region: its purge answer names none, no 'invalidation.applied' comes.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const fleet = [applied(published(61, ['content:7']), 'eu-west', 305), applied(applied(applied(published(61, ['content:7']), 'eu-west', 305), 'us-east', 104), 'ap-south', 612)];
    renderPage((call) => {
      if (call.method === 'POST') return { status: 202, body: { ...published(61, ['content:7']), regions: {} } };
      if (call.path === '/api/invalidations/61') return { body: fleet.length > 1 ? fleet.shift() : fleet[0] };
      return undefined;
    });
    await userEvent.type(await screen.findByLabelText('Tag'), 'news');
    await userEvent.click(screen.getByRole('button', { name: 'Purge' }));
    expect(await screen.findByText(/invalidation #61/)).toBeTruthy();

    await act(() => vi.advanceTimersByTimeAsync(STATUS_POLL_MS));
    expect(await within(card('eu-west')).findByText('applied +305 ms')).toBeTruthy();
    expect(within(card('us-east')).getByText('pending')).toBeTruthy();
    await act(() => vi.advanceTimersByTimeAsync(STATUS_POLL_MS));
    expect(await within(card('ap-south')).findByText('applied +612 ms')).toBeTruthy();
    expect(within(card('us-east')).getByText('applied +104 ms')).toBeTruthy();
    expect(screen.getByText(/invalidation #61 .* landed in us-east → eu-west → ap-south \(complete\)/)).toBeTruthy();
  });

  it('follows invalidations made elsewhere only when asked to', async () => {
    const services = renderPage();
    await screen.findByRole('listitem', { name: 'us-east' });
    const sql = published(90, ['content:3'], 55);
    act(() => services.emit('invalidation.published', sql));
    act(() => services.emit('invalidation.applied', applied(sql, 'us-east', 101)));
    expect(within(card('us-east')).getByText(/none followed yet/)).toBeTruthy();

    await userEvent.click(screen.getByLabelText(/Follow every invalidation/));
    const next = published(91, ['content:4'], 56);
    act(() => services.emit('invalidation.published', next));
    expect(screen.getByText(/A change at the origin \(content:4\)/)).toBeTruthy();
    act(() => services.emit('invalidation.applied', applied(next, 'us-east', 102)));
    act(() => services.emit('invalidation.applied', applied(next, 'eu-west', 305)));
    expect(within(card('us-east')).getByText('applied +102 ms')).toBeTruthy();
    expect(within(card('eu-west')).getByText('applied +305 ms')).toBeTruthy();
    expect(within(card('ap-south')).getByText('pending')).toBeTruthy();
  });
});
