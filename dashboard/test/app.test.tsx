import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup } from '@testing-library/react';
import { memoryLocation } from 'wouter/memory-location';
import { App } from '../src/App';
import { fakeServices, SERVER_INFO } from './fake-services';

const info = SERVER_INFO;

afterEach(cleanup);

describe('App shell', () => {
  it('shows "not enabled" for features the server does not run', async () => {
    const services = fakeServices((call) => (call.path === '/api/info' ? { body: info } : undefined));
    render(<App services={services} hook={memoryLocation({ path: '/warming' }).hook} />);
    expect(await screen.findByRole('heading', { name: 'Warming' })).toBeTruthy();
    expect(screen.getByText('Not enabled')).toBeTruthy();
  });

  it('shows the content page only when the server runs the demo', async () => {
    const own = fakeServices((call) => (call.path === '/api/info' ? { body: { ...info, apps: [] } } : undefined));
    render(<App services={own} hook={memoryLocation({ path: '/content' }).hook} />);
    expect(await screen.findByText('Not enabled')).toBeTruthy();
    expect(screen.getByRole('heading', { name: 'Content' })).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'Content' })).toBeNull();
    cleanup();
    const demo = fakeServices((call) => (call.path === '/api/info' ? { body: info } : undefined));
    render(<App services={demo} hook={memoryLocation({ path: '/keys' }).hook} />);
    expect(await screen.findByRole('link', { name: 'Content' })).toBeTruthy();
  });

  it('shows an API error instead of swallowing it', async () => {
    const services = fakeServices((call) => (call.path === '/api/info' ? { status: 503, body: { error: { code: 'origin_unavailable', message: 'the origin is down' } } } : undefined));
    render(<App services={services} hook={memoryLocation({ path: '/warming' }).hook} />);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('origin_unavailable');
    expect(alert.textContent).toContain('the origin is down');
  });

  it('shows whether the event stream is connecting, live or reconnecting', async () => {
    const services = fakeServices((call) => (call.path === '/api/info' ? { body: info } : undefined));
    render(<App services={services} hook={memoryLocation({ path: '/audit' }).hook} />);
    expect(await screen.findByRole('status', { name: 'Event stream connecting…' })).toBeTruthy();
    act(() => services.streamState('live'));
    expect(screen.getByRole('status', { name: 'Event stream live' })).toBeTruthy();
    act(() => services.streamState('reconnecting'));
    expect(screen.getByRole('status', { name: 'Event stream reconnecting…' })).toBeTruthy();
  });

  it('marks the current page in the navigation', async () => {
    const services = fakeServices((call) => (call.path === '/api/info' ? { body: info } : undefined));
    render(<App services={services} hook={memoryLocation({ path: '/audit' }).hook} />);
    const current = await screen.findByRole('link', { current: 'page' });
    expect(current.textContent).toBe('Audit');
  });
});
