import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryLocation } from 'wouter/memory-location';
import { App } from '../src/App';
import type { DryRunResult, InvalidationStatus } from '../src/api/types';
import { ServicesProvider } from '../src/lib/api-context';
import { InvalidationsPage } from '../src/pages/invalidations/InvalidationsPage';
import { HISTORY_POLL_MS } from '../src/pages/invalidations/useInvalidationHistory';
import { mergeStatus } from '../src/lib/merge-status';
import { STATUS_POLL_MS } from '../src/lib/useStatusPoll';
import { fakeServices, SERVER_INFO } from './fake-services';
import type { Call } from './fake-services';

const info = SERVER_INFO;

const COMMITTED = 1_795_508_577_881;
const pending = { appliedAt: null, lagMs: null, skipped: false };
const applied = (lagMs: number) => ({ appliedAt: COMMITTED + lagMs, lagMs, skipped: false });

function status(id: number, regions: InvalidationStatus['regions'], extra: Partial<InvalidationStatus> = {}): InvalidationStatus {
  return { id, source: 'purge', keys: [], tags: ['news'], prefixes: [], committedAt: COMMITTED, publishedAt: COMMITTED, regions, complete: false, ...extra };
}

const older = status(21, { 'ap-south': applied(656), 'us-east': applied(96), 'eu-west': { appliedAt: COMMITTED + 300, lagMs: 300, skipped: true } }, { source: 'cdc', keys: ['content:7'], tags: [], version: 9, complete: true });
const newer = status(22, { 'ap-south': pending, 'us-east': pending, 'eu-west': pending });

function answers(extra: (call: Call) => ReturnType<Parameters<typeof fakeServices>[0]> = () => undefined) {
  return (call: Call) => {
    if (call.path === '/api/info') return { body: info };
    if (call.method === 'GET' && call.path === '/api/invalidations?limit=50') return { body: { items: [newer, older] } };
    return extra(call);
  };
}

function renderPage(services: ReturnType<typeof fakeServices>) {
  return render(
    <ServicesProvider services={services}>
      <InvalidationsPage />
    </ServicesProvider>,
  );
}

const posts = (calls: Call[]) => calls.filter((call) => call.method === 'POST');

/** The cell of the row whose id is `id`, in the column headed `header`. */
function cell(id: number, header: string): HTMLElement {
  const table = screen.getByRole('table');
  const headers = within(table).getAllByRole('columnheader').map((th) => th.textContent);
  const row = within(table)
    .getAllByRole('row')
    .find((tr) => tr.querySelector('td')?.textContent === String(id));
  if (!row) throw new Error(`no row ${id}`);
  return within(row).getAllByRole('cell')[headers.indexOf(header)]!;
}

const ids = () =>
  within(screen.getByRole('table'))
    .getAllByRole('row')
    .slice(1)
    .map((tr) => tr.querySelector('td')?.textContent);

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe('Invalidations page: purge', () => {
  it('does not show the preview of targets edited away while it was on its way', async () => {
    const services = fakeServices(answers());
    const answersToPreview: ((result: DryRunResult) => void)[] = [];
    services.api.previewInvalidation = () => new Promise((resolve) => answersToPreview.push(resolve));
    renderPage(services);
    const dryRun = (tags: string[]): DryRunResult => ({ dryRun: true, keys: [], tags, prefixes: [], regions: { 'us-east': { keys: [`${tags[0]}:1`], total: 1 } } });

    fireEvent.change(screen.getByLabelText('Tags'), { target: { value: 'news' } });
    fireEvent.click(screen.getByRole('button', { name: 'Preview' }));
    fireEvent.change(screen.getByLabelText('Tags'), { target: { value: 'sport' } });
    await act(async () => answersToPreview[0]!(dryRun(['news'])));
    expect(screen.queryByRole('region', { name: 'Preview' })).toBeNull();

    // The preview of the text in the form shows.
    fireEvent.click(screen.getByRole('button', { name: 'Preview' }));
    expect(answersToPreview).toHaveLength(2);
    await act(async () => answersToPreview[1]!(dryRun(['sport'])));
    expect(within(await screen.findByRole('region', { name: 'Preview' })).getByText('sport:1')).toBeTruthy();
  });

  it('previews with a dry run and shows each region total and its keys, cut at 50', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `content:${i}`);
    const dryRun: DryRunResult = {
      dryRun: true,
      keys: [],
      tags: ['news'],
      prefixes: ['content:'],
      regions: { 'us-east': { keys: ['content:1', 'content:2'], total: 2 }, 'eu-west': { keys, total: 75 } },
    };
    const services = fakeServices(answers((call) => (call.method === 'POST' && call.path === '/api/invalidate' ? { body: dryRun } : undefined)));
    renderPage(services);

    fireEvent.change(screen.getByLabelText('Tags'), { target: { value: 'news, news' } });
    fireEvent.change(screen.getByLabelText('Prefixes'), { target: { value: 'content:*' } });
    fireEvent.click(screen.getByRole('button', { name: 'Preview' }));

    const preview = await screen.findByRole('region', { name: 'Preview' });
    expect(posts(services.calls)).toEqual([{ method: 'POST', path: '/api/invalidate', body: { tags: ['news'], prefixes: ['content:*'], dryRun: true } }]);
    expect(within(preview).getByRole('heading', { name: 'us-east: 2 keys' })).toBeTruthy();
    const euWest = within(preview).getByRole('region', { name: 'Preview eu-west' });
    expect(within(euWest).getByRole('heading').textContent).toBe('eu-west: 75 keys');
    expect(within(euWest).getAllByRole('listitem')).toHaveLength(50);
    expect(within(euWest).getByText('and 25 more')).toBeTruthy();
    expect(preview.textContent).toContain('would drop 77 entries');
  });

  it('says "at least" for a region whose dry run ran out of budget', async () => {
    const dryRun: DryRunResult = {
      dryRun: true,
      keys: [],
      tags: ['news'],
      prefixes: [],
      regions: { 'us-east': { keys: ['content:1'], total: 1, partial: false }, 'eu-west': { keys: ['content:2'], total: 9, partial: true } },
    };
    renderPage(fakeServices(answers((call) => (call.method === 'POST' && call.path === '/api/invalidate' ? { body: dryRun } : undefined))));
    fireEvent.change(screen.getByLabelText('Tags'), { target: { value: 'news' } });
    fireEvent.click(screen.getByRole('button', { name: 'Preview' }));
    const preview = await screen.findByRole('region', { name: 'Preview' });
    expect(within(preview).getByRole('heading', { name: 'us-east: 1 key' })).toBeTruthy();
    expect(within(preview).getByRole('heading', { name: 'eu-west: at least 9 keys' })).toBeTruthy();
    expect(preview.textContent).toContain('would drop at least 10 entries');
  });

  it('purges without dryRun, then shows the purge id and its progress as regions apply it', async () => {
    const published = status(42, { 'us-east': pending, 'eu-west': pending, 'ap-south': pending }, { keys: ['a', 'b'], tags: [] });
    const services = fakeServices(answers((call) => (call.method === 'POST' && call.path === '/api/invalidate' ? { status: 202, body: published } : undefined)));
    renderPage(services);

    fireEvent.change(screen.getByLabelText('Keys'), { target: { value: 'a, b\nb' } });
    fireEvent.click(screen.getByRole('button', { name: 'Purge' }));

    const progress = await screen.findByText((_, element) => element?.tagName === 'P' && /Purge #42 published: applying…/.test(element.textContent ?? ''));
    expect(posts(services.calls)).toEqual([{ method: 'POST', path: '/api/invalidate', body: { keys: ['a', 'b'] } }]);
    const box = progress.closest('.purge-progress') as HTMLElement;
    const regions = () => within(box).getAllByRole('listitem').map((li) => li.textContent);
    expect(regions()).toEqual(['us-east pending', 'eu-west pending', 'ap-south pending']);

    act(() => services.emit('invalidation.applied', { ...published, regions: { ...published.regions, 'us-east': applied(103) }, region: 'us-east' }));
    expect(regions()).toEqual(['us-east 103 ms', 'eu-west pending', 'ap-south pending']);
  });

  it('asks the server where a purge stands until every region applied it, on a process with no events for them', async () => {
    // The control process of freshcache up serves no region: its purge answer names none, no 'invalidation.applied' comes.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const fleet = [
      status(43, { 'us-east': applied(98), 'eu-west': pending, 'ap-south': pending }, { keys: ['a'], tags: [] }),
      status(43, { 'us-east': applied(98), 'eu-west': applied(310), 'ap-south': applied(640) }, { keys: ['a'], tags: [], complete: true }),
    ];
    const services = fakeServices(
      answers((call) => {
        if (call.method === 'POST' && call.path === '/api/invalidate') return { status: 202, body: status(43, {}, { keys: ['a'], tags: [] }) };
        if (call.path === '/api/invalidations/43') return { body: fleet.length > 1 ? fleet.shift() : fleet[0] };
        return undefined;
      }),
    );
    renderPage(services);
    fireEvent.change(screen.getByLabelText('Keys'), { target: { value: 'a' } });
    fireEvent.click(screen.getByRole('button', { name: 'Purge' }));
    const progress = await screen.findByText((_, element) => element?.tagName === 'P' && /Purge #43 published: applying…/.test(element.textContent ?? ''));
    const box = progress.closest('.purge-progress') as HTMLElement;
    const regions = () => within(box).queryAllByRole('listitem').map((li) => li.textContent);
    expect(regions()).toEqual([]);

    await act(() => vi.advanceTimersByTimeAsync(STATUS_POLL_MS));
    await waitFor(() => expect(regions()).toEqual(['us-east 98 ms', 'eu-west pending', 'ap-south pending']));
    await act(() => vi.advanceTimersByTimeAsync(STATUS_POLL_MS));
    await waitFor(() => expect(regions()).toEqual(['us-east 98 ms', 'eu-west 310 ms', 'ap-south 640 ms']));
    expect(box.textContent).toContain('Purge #43 published: applied in every region.');
    expect(cell(43, 'Complete').textContent).toBe('complete');
  });

  it('does not call the API with nothing entered', async () => {
    const services = fakeServices(answers());
    renderPage(services);
    fireEvent.click(screen.getByRole('button', { name: 'Preview' }));
    expect((await screen.findByRole('alert')).textContent).toContain('Enter at least one key, tag or prefix');
    fireEvent.change(screen.getByLabelText('Keys'), { target: { value: ' ,\n ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Purge' }));
    expect(screen.getByRole('alert').textContent).toContain('Enter at least one key, tag or prefix');
    expect(posts(services.calls)).toEqual([]);
  });

  it('shows the error the server answered with', async () => {
    const services = fakeServices(
      answers((call) =>
        call.method === 'POST' ? { status: 400, body: { error: { code: 'invalid_tag', message: 'tag "bad tag!" uses characters outside A-Z a-z 0-9 : . _ / -' } } } : undefined,
      ),
    );
    renderPage(services);
    fireEvent.change(screen.getByLabelText('Tags'), { target: { value: 'bad!' } });
    fireEvent.click(screen.getByRole('button', { name: 'Purge' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('invalid_tag');
    expect(alert.textContent).toContain('uses characters outside');
    expect(screen.queryByText(/Purge #/)).toBeNull();
  });
});

describe('Invalidations page: history', () => {
  it('lists the latest invalidations with each region lag, pending or skipped, in the configured region order', async () => {
    const services = fakeServices(answers());
    render(<App services={services} hook={memoryLocation({ path: '/invalidations' }).hook} />);
    await screen.findByRole('table');
    expect(services.calls.some((call) => call.path === '/api/invalidations?limit=50')).toBe(true);

    const headers = within(screen.getByRole('table')).getAllByRole('columnheader').map((th) => th.textContent);
    expect(headers).toEqual(['ID', 'Source', 'Targets', 'Committed', 'us-east', 'eu-west', 'ap-south', 'Complete']);
    expect(ids()).toEqual(['22', '21']);
    expect(cell(21, 'Source').textContent).toBe('cdc');
    expect(cell(21, 'Targets').textContent).toBe('keys: content:7');
    expect(cell(21, 'us-east').textContent).toBe('96 ms');
    expect(cell(21, 'eu-west').textContent).toBe('skipped');
    expect(cell(21, 'Complete').textContent).toBe('complete');
    expect(cell(22, 'ap-south').textContent).toBe('pending');
    expect(cell(22, 'Complete').textContent).toBe('in progress');
  });

  it('adds published invalidations at the top and updates a row when a region applies it', async () => {
    const services = fakeServices(answers());
    renderPage(services);
    await screen.findByRole('table');

    const fresh = status(23, { 'us-east': pending, 'eu-west': pending, 'ap-south': pending }, { source: 'cdc', keys: ['content:3'] });
    act(() => services.emit('invalidation.published', fresh));
    expect(ids()).toEqual(['23', '22', '21']);

    act(() => services.emit('invalidation.applied', { ...newer, regions: { ...newer.regions, 'eu-west': applied(317) }, region: 'eu-west' }));
    expect(cell(22, 'eu-west').textContent).toBe('317 ms');
    expect(cell(22, 'us-east').textContent).toBe('pending');
  });

  it('asks for the list again while an invalidation in it is in progress, and no more once none is (a process with no events for some regions)', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const done = { ...newer, regions: { 'ap-south': applied(640), 'us-east': applied(98), 'eu-west': applied(310) }, complete: true };
    const lists = [[newer, older], [done, older]];
    const services = fakeServices((call) => (call.path === '/api/invalidations?limit=50' ? { body: { items: lists.length > 1 ? lists.shift() : lists[0] } } : undefined));
    const loads = () => services.calls.filter((call) => call.path === '/api/invalidations?limit=50').length;
    renderPage(services);
    await screen.findByRole('table');
    expect(cell(22, 'Complete').textContent).toBe('in progress');

    await act(() => vi.advanceTimersByTimeAsync(HISTORY_POLL_MS));
    await waitFor(() => expect(cell(22, 'Complete').textContent).toBe('complete'));
    expect(cell(22, 'eu-west').textContent).toBe('310 ms');
    const asked = loads();
    await act(() => vi.advanceTimersByTimeAsync(HISTORY_POLL_MS * 3));
    expect(loads()).toBe(asked);
  });

  it('reloads after a reconnect without undoing what the events said', async () => {
    let loads = 0;
    const later = status(24, { 'us-east': pending, 'eu-west': pending, 'ap-south': pending });
    const services = fakeServices((call) => {
      if (call.path !== '/api/invalidations?limit=50') return undefined;
      // The reload answers with 22 still pending in eu-west: it was read before the event below.
      return { body: { items: ++loads === 1 ? [newer, older] : [later, newer, older] } };
    });
    renderPage(services);
    await screen.findByRole('table');
    act(() => services.emit('invalidation.applied', { ...newer, regions: { ...newer.regions, 'eu-west': applied(317) }, region: 'eu-west' }));

    act(() => services.resync());
    await screen.findByRole('cell', { name: '24' });
    expect(ids()).toEqual(['24', '22', '21']);
    expect(cell(22, 'eu-west').textContent).toBe('317 ms');
  });

  it('shows a failed load', async () => {
    const services = fakeServices((call) => (call.path.startsWith('/api/invalidations') ? { status: 503, body: { error: { code: 'internal', message: 'boom' } } } : undefined));
    renderPage(services);
    expect((await screen.findByRole('alert')).textContent).toContain('boom');
    expect(screen.queryByText(/No invalidations yet/)).toBeNull();
  });
});

describe('mergeStatus', () => {
  it('keeps a region applied whatever order the statuses arrive in', () => {
    const afterEvent = status(5, { 'us-east': applied(100), 'eu-west': pending });
    const postAnswer = status(5, { 'us-east': pending, 'eu-west': pending });
    expect(mergeStatus(afterEvent, postAnswer).regions['us-east']).toEqual(applied(100));
    expect(mergeStatus(postAnswer, afterEvent).regions['us-east']).toEqual(applied(100));
    const done = mergeStatus(afterEvent, status(5, { 'us-east': pending, 'eu-west': applied(300) }));
    expect(done.regions).toEqual({ 'us-east': applied(100), 'eu-west': applied(300) });
    expect(done.complete).toBe(true);
  });

  it('is complete only once every region either status names applied it', () => {
    // An event counts only the regions its process serves: complete for it, not for the fleet.
    const event = status(6, { 'us-east': applied(100) }, { complete: true });
    const fleet = status(6, { 'us-east': pending, 'eu-west': pending });
    expect(mergeStatus(fleet, event).complete).toBe(false);
    expect(mergeStatus(event, fleet).complete).toBe(false);
    expect(mergeStatus(event, status(6, { 'us-east': applied(100), 'eu-west': applied(300) }, { complete: true })).complete).toBe(true);
    // A purge answer of a process that serves no region names none: nothing says it applied anywhere.
    expect(mergeStatus(status(6, {}), status(6, {})).complete).toBe(false);
  });
});
