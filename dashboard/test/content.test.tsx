import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ContentRecord, Mode, RegionSettings } from '../src/api/types';
import { ServicesProvider } from '../src/lib/api-context';
import { ContentPage } from '../src/pages/content/ContentPage';
import { runDemo } from '../src/pages/content/runDemo';
import type { DemoProgress } from '../src/pages/content/runDemo';
import { stampTitle } from '../src/lib/stamp-title';
import { fakeServices } from './fake-services';
import type { Call } from './fake-services';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

const region = (name: string, delayMs: number, mode: Mode = 'cdc'): RegionSettings => ({ name, delayMs, jitter: 0, strategy: 'eager', mode, ttlMs: 60_000, maxStaleMs: 30_000, negativeTtlMs: 5_000, served: true });
const REGIONS = [region('us-east', 100), region('eu-west', 300), region('ap-south', 600)];

const article = (id: number, version = id): ContentRecord => ({ id, slug: `article-${id}`, title: `Article ${id}`, body: `Body ${id}`, tags: ['news'], version, updatedAt: '2026-11-24T08:00:00.000Z' });

type Answer = ReturnType<Parameters<typeof fakeServices>[0]>;

function renderPage(respond: (call: Call) => Answer = () => undefined) {
  const services = fakeServices((call) => {
    const answer = respond(call);
    if (answer) return answer;
    if (call.method === 'GET' && call.path === '/api/regions') return { body: { items: REGIONS } };
    if (call.method === 'GET' && call.path === '/api/content?limit=25') return { body: { items: [article(1), article(2)], cursor: null } };
    return undefined;
  });
  render(
    <ServicesProvider services={services}>
      <ContentPage />
    </ServicesProvider>,
  );
  return services;
}

describe('Content page', () => {
  it('posts the create form and shows the 409 conflict the server answers', async () => {
    const services = renderPage((call) => (call.method === 'POST' ? { status: 409, body: { error: { code: 'conflict', message: 'slug "article-1" already exists' } } } : undefined));
    const form = await screen.findByRole('form', { name: 'Create content' });
    await userEvent.type(within(form).getByLabelText('Slug'), 'article-1');
    await userEvent.type(within(form).getByLabelText('Title'), 'Hello');
    await userEvent.type(within(form).getByLabelText('Body'), 'Some text');
    await userEvent.type(within(form).getByLabelText(/Tags/), 'news, front-page');
    await userEvent.click(within(form).getByRole('button', { name: 'Create' }));

    const alert = await within(form).findByRole('alert');
    expect(alert.textContent).toContain('conflict');
    expect(alert.textContent).toContain('slug "article-1" already exists');
    expect(services.calls).toContainEqual({ method: 'POST', path: '/api/content', body: { slug: 'article-1', title: 'Hello', body: 'Some text', tags: ['news', 'front-page'] } });
  });

  it('adds a created article to the list and selects it', async () => {
    renderPage((call) => (call.method === 'POST' ? { status: 201, body: { ...article(3), slug: 'fresh-one', title: 'Fresh one' } } : undefined));
    const form = await screen.findByRole('form', { name: 'Create content' });
    await userEvent.type(within(form).getByLabelText('Slug'), 'fresh-one');
    await userEvent.type(within(form).getByLabelText('Title'), 'Fresh one');
    await userEvent.click(within(form).getByRole('button', { name: 'Create' }));
    expect(await screen.findByRole('button', { name: 'fresh-one', pressed: true })).toBeTruthy();
    expect(screen.getByRole('form', { name: 'Edit fresh-one' })).toBeTruthy();
  });

  it('loads the next page with the cursor', async () => {
    const services = renderPage((call) => {
      if (call.path === '/api/content?limit=25') return { body: { items: [article(1)], cursor: 1 } };
      if (call.path === '/api/content?cursor=1&limit=25') return { body: { items: [article(2)], cursor: null } };
      return undefined;
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Load more' }));
    expect(await screen.findByRole('button', { name: 'article-2' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
    expect(services.calls.filter((c) => c.path.startsWith('/api/content?'))).toHaveLength(2);
  });

  it('says Loading… while a page is on its way, with Load more disabled, and nothing about an empty origin', async () => {
    const services = renderPage((call) => (call.path === '/api/content?limit=25' ? { body: { items: [article(1)], cursor: 1 } } : undefined));
    expect(screen.getByText('Loading…')).toBeTruthy();
    expect(screen.queryByText(/No content at the origin yet/)).toBeNull();
    const more = await screen.findByRole<HTMLButtonElement>('button', { name: 'Load more' });
    expect(screen.queryByText('Loading…')).toBeNull();

    let answer!: () => void;
    services.api.listContent = () => new Promise((resolve) => (answer = () => resolve({ items: [article(2)], cursor: null })));
    await userEvent.click(more);
    expect(screen.getByText('Loading…')).toBeTruthy();
    expect(more.disabled).toBe(true);
    await act(async () => answer());
    expect(await screen.findByRole('button', { name: 'article-2' })).toBeTruthy();
    expect(screen.queryByText('Loading…')).toBeNull();
  });

  it('saves the edit form with PUT, and deletes only after confirmation', async () => {
    const services = renderPage((call) => {
      if (call.method === 'PUT') return { body: { ...article(1, 9), ...(call.body as object) } };
      if (call.method === 'DELETE') return { status: 204 };
      return undefined;
    });
    const form = await screen.findByRole('form', { name: 'Edit article-1' });
    const title = within(form).getByLabelText('Title');
    await userEvent.clear(title);
    await userEvent.type(title, 'New title');
    await userEvent.click(within(form).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(services.calls).toContainEqual({ method: 'PUT', path: '/api/content/1', body: { title: 'New title', body: 'Body 1', tags: ['news'] } }));
    expect(await within(form).findByText(/version 9/)).toBeTruthy();

    await userEvent.click(within(form).getByRole('button', { name: 'Delete…' }));
    expect(services.calls.some((c) => c.method === 'DELETE')).toBe(false);
    await userEvent.click(within(form).getByRole('button', { name: 'Yes, delete' }));
    await waitFor(() => expect(services.calls).toContainEqual({ method: 'DELETE', path: '/api/content/1', body: undefined }));
    expect(await screen.findByRole('form', { name: 'Edit article-2' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'article-1' })).toBeNull();
  });

  it('gives the focus back to Delete… when the delete is cancelled', async () => {
    renderPage();
    const form = await screen.findByRole('form', { name: 'Edit article-1' });
    const deleteButton = within(form).getByRole('button', { name: 'Delete…' });
    await userEvent.click(deleteButton);
    expect(document.activeElement).toBe(within(form).getByRole('button', { name: 'Cancel' }));
    await userEvent.click(within(form).getByRole('button', { name: 'Cancel' }));
    expect(within(form).queryByRole('group', { name: 'Confirm delete' })).toBeNull();
    expect(document.activeElement).toBe(within(form).getByRole('button', { name: 'Delete…' }));
  });

  it('keeps the changes that arrived while a reload was on its way: a delete stays deleted, a newer version stays', async () => {
    const services = renderPage();
    await screen.findByRole('button', { name: 'article-2' });
    // The reload after a reconnect waits until the test lets it go, with the list as it was when asked.
    let answer!: () => void;
    const listContent = services.api.listContent.bind(services.api);
    services.api.listContent = (query) => new Promise((resolve) => (answer = () => resolve(listContent(query))));
    act(() => services.resync());

    act(() => services.emit('content.changed', { op: 'delete', id: 2 }));
    act(() => services.emit('content.changed', { op: 'update', id: 1, record: { ...article(1, 5), title: 'Newer title' } }));
    act(() => services.emit('content.changed', { op: 'create', id: 3, record: article(3) }));
    await act(async () => answer());

    await waitFor(() => expect(screen.queryByText('Loading…')).toBeNull());
    expect(screen.queryByRole('button', { name: 'article-2' })).toBeNull();
    expect(screen.getByText('Newer title')).toBeTruthy();
    expect(screen.queryByText('Article 1')).toBeNull();
    expect(screen.getByRole('button', { name: 'article-3' })).toBeTruthy();
  });

  it('drops on a reload what the origin no longer has', async () => {
    let items = [article(1), article(2)];
    const services = renderPage((call) => (call.path === '/api/content?limit=25' ? { body: { items, cursor: null } } : undefined));
    await screen.findByRole('button', { name: 'article-2' });
    // Deleted while the stream was away: no event came.
    items = [article(1)];
    act(() => services.resync());
    await waitFor(() => expect(screen.queryByRole('button', { name: 'article-2' })).toBeNull());
  });

  it('reads through every region and shows X-Cache, Age and version from the headers, flagging an older version as stale', async () => {
    const edge: Record<string, Answer> = {
      '/edge/us-east/content/1': { body: article(1, 5), headers: { 'x-cache': 'HIT', age: '3', 'x-cache-version': '5' } },
      '/edge/eu-west/content/1': { body: { ...article(1, 4), title: 'Old title' }, headers: { 'x-cache': 'HIT', age: '41', 'x-cache-version': '4' } },
      '/edge/ap-south/content/1': { body: article(1, 5), headers: { 'x-cache': 'MISS', age: '0', 'x-cache-version': '5' } },
    };
    renderPage((call) => (call.path === '/api/content/1' ? { body: article(1, 5) } : edge[call.path]));
    await userEvent.click(await screen.findByRole('button', { name: 'Read through every region' }));

    const table = await screen.findByRole('table', { name: 'Reads through every region' });
    const row = (name: string) => within(table).getByRole('rowheader', { name }).closest('tr')!;
    const cells = (name: string) => [...row(name).querySelectorAll('td')].map((td) => td.textContent!.trim());
    expect(cells('origin')[2]).toBe('v5');
    expect(cells('us-east').slice(0, 4)).toEqual(['HIT', '3', 'v5', 'Article 1']);
    expect(cells('eu-west').slice(0, 4)).toEqual(['HIT', '41', 'v4 stale', 'Old title']);
    expect(cells('ap-south').slice(0, 3)).toEqual(['MISS', '0', 'v5']);
    expect(within(row('us-east')).queryByText('stale')).toBeNull();
  });

  it('shows a failed region read with its error, next to the others', async () => {
    renderPage((call) => {
      if (call.path === '/api/content/1') return { body: article(1) };
      if (call.path === '/edge/eu-west/content/1') return { status: 503, body: { error: { code: 'origin_unavailable', message: 'the origin is down' } } };
      if (call.path.startsWith('/edge/')) return { body: article(1), headers: { 'x-cache': 'HIT', age: '1', 'x-cache-version': '1' } };
      return undefined;
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Read through every region' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('the origin is down');
    expect(alert.closest('tr')!.textContent).toContain('eu-west');
  });
});

/**
 * A fake server for the demos: one article whose version moves on each update, and regions that
 * cache it. A region in cdc mode drops its copy `delayMs` after an update; in ttl mode it keeps it.
 * Time is the fake clock's, so the demo's pacing decides what each read sees.
 */
function demoServer(modes: Record<string, Mode>) {
  let record = article(1, 10);
  let updatedAt = -Infinity;
  const cached: Record<string, ContentRecord | undefined> = {};
  const settings = () => REGIONS.map((r) => ({ ...r, mode: modes[r.name]! }));
  return fakeServices((call) => {
    if (call.path === '/api/regions') return { body: { items: settings() } };
    if (call.path.startsWith('/api/content?')) return { body: { items: [record], cursor: null } };
    const patch = call.path.match(/^\/api\/regions\/(.+)$/);
    if (patch && call.method === 'PATCH') {
      modes[patch[1]!] = (call.body as { mode: Mode }).mode;
      return { body: settings().find((r) => r.name === patch[1]) };
    }
    if (call.path === '/api/content/1' && call.method === 'GET') return { body: record };
    if (call.path === '/api/content/1' && call.method === 'PUT') {
      record = { ...record, ...(call.body as object), version: record.version + 1 };
      updatedAt = Date.now();
      return { body: record };
    }
    const edge = call.path.match(/^\/edge\/(.+)\/content\/1$/);
    if (edge) {
      const name = edge[1]!;
      const delay = REGIONS.find((r) => r.name === name)!.delayMs;
      if (modes[name] === 'cdc' && Date.now() - updatedAt >= delay && cached[name]?.version !== record.version) cached[name] = undefined;
      const hit = cached[name];
      cached[name] = hit ?? record;
      return { body: cached[name], headers: { 'x-cache': hit ? 'HIT' : 'MISS', age: '2', 'x-cache-version': String(cached[name]!.version) } };
    }
    return undefined;
  });
}

describe('runDemo', () => {
  it('CDC: sets every region to cdc, updates, and reports when each first served the new version, in delay order', async () => {
    vi.useFakeTimers();
    const services = demoServer({ 'us-east': 'ttl', 'eu-west': 'cdc', 'ap-south': 'ttl' });
    const progress: DemoProgress[] = [];
    const running = runDemo(services.api, 'cdc', 1, (p) => progress.push(p));
    await vi.advanceTimersByTimeAsync(2000);
    const result = await running;

    const patches = services.calls.filter((c) => c.method === 'PATCH');
    expect(patches).toEqual([
      { method: 'PATCH', path: '/api/regions/us-east', body: { mode: 'cdc' } },
      { method: 'PATCH', path: '/api/regions/ap-south', body: { mode: 'cdc' } },
    ]);
    const put = services.calls.find((c) => c.method === 'PUT')!;
    expect((put.body as { title: string }).title).toMatch(/^Article 1 · demo \d\d:\d\d:\d\d$/);
    expect([result.oldVersion, result.newVersion]).toEqual([10, 11]);
    // Re-reads every 50 ms: each region is first seen fresh on the first read at or after its delay.
    expect(result.regions.map((r) => [r.name, r.firstNewMs])).toEqual([
      ['us-east', 100],
      ['eu-west', 300],
      ['ap-south', 600],
    ]);
    expect(result.summary).toBe('Every region served version 11 in delay order: us-east +100 ms (delay 100 ms), eu-west +300 ms (delay 300 ms), ap-south +600 ms (delay 600 ms).');
    // It stopped once every region was fresh, instead of reading on until 1.5 s.
    expect(services.calls.filter((c) => c.path === '/edge/us-east/content/1')).toHaveLength(1 + 600 / 50);
    // Progress came step by step, the last one with the final picture.
    expect(progress.length).toBeGreaterThan(4);
    expect(progress.at(-1)!.regions.map((r) => r.firstNewMs)).toEqual([100, 300, 600]);
  });

  it('TTL: sets every region to ttl, updates, and shows that they keep serving the old version', async () => {
    vi.useFakeTimers();
    const services = demoServer({ 'us-east': 'cdc', 'eu-west': 'cdc', 'ap-south': 'cdc' });
    const running = runDemo(services.api, 'ttl', 1, () => {});
    await vi.advanceTimersByTimeAsync(2000);
    const result = await running;

    expect(services.calls.filter((c) => c.method === 'PATCH').map((c) => c.body)).toEqual([{ mode: 'ttl' }, { mode: 'ttl' }, { mode: 'ttl' }]);
    expect(result.regions.map((r) => [r.name, r.firstNewMs, r.lastRead?.cache, r.lastRead?.version])).toEqual([
      ['us-east', null, 'HIT', 10],
      ['eu-west', null, 'HIT', 10],
      ['ap-south', null, 'HIT', 10],
    ]);
    expect(result.summary).toContain('Every region still served an old version after 1500 ms although the origin is at version 11 (was 10)');
    // TTL 60 s, Age 2 s: each refreshes in about 58 s.
    expect(result.summary).toContain('us-east in ≈ 58 s');
    // A few rounds over 1.5 s, each in the log.
    expect(result.steps.filter((s) => s.text.includes('after the update'))).toHaveLength(5);
  });
});

describe('Demo panel', () => {
  it('runs the CDC demo on the selected article, with both buttons disabled until it ends', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const services = demoServer({ 'us-east': 'cdc', 'eu-west': 'cdc', 'ap-south': 'cdc' });
    render(
      <ServicesProvider services={services}>
        <ContentPage />
      </ServicesProvider>,
    );
    await act(() => vi.advanceTimersByTimeAsync(0));
    const ttl = screen.getByRole('button', { name: 'TTL stale read' });
    fireEvent.click(screen.getByRole('button', { name: 'CDC invalidation' }));
    expect(screen.getByRole('button', { name: 'Running…' }).hasAttribute('disabled')).toBe(true);
    expect(ttl.hasAttribute('disabled')).toBe(true);

    await act(() => vi.advanceTimersByTimeAsync(2000));
    expect(screen.getByText(/Every region served version 11 in delay order/)).toBeTruthy();
    expect(ttl.hasAttribute('disabled')).toBe(false);
  });
});

describe('stampTitle', () => {
  it('replaces an earlier stamp instead of adding another, and stays within 200 characters', () => {
    const at = new Date(2026, 10, 24, 9, 5, 7);
    expect(stampTitle('Article 1 · edited 08:00:00', 'demo', at)).toBe('Article 1 · demo 09:05:07');
    expect(stampTitle('x'.repeat(200), 'edited', at)).toHaveLength(200);
  });
});
