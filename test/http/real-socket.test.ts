import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ContentRecord } from '../../packages/freshcache-server/src/demo/content-store.js';
import type { InvalidationStatus } from '../../packages/freshcache-server/src/topology/invalidation-tracker.js';
import { serverSentEvents } from '../../packages/freshcache-server/src/tools/server-sent-events.js';
import { testApp } from '../testkit/test-topology.js';

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** Opens /api/events; the fetch is aborted when the test ends, whatever happens. */
async function openEvents(base: string) {
  const abort = new AbortController();
  onTestFinished(() => abort.abort());
  const res = await fetch(`${base}/api/events`, { signal: abort.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  return { res, abort };
}

describe('over a real socket', () => {
  it('serves an edge read (MISS then HIT) and streams invalidation.applied over /api/events', async () => {
    const { app, topology } = await testApp({ config: { regions: [{ name: 'r1', delayMs: 5 }] } });
    const base = await listen(app);

    const insertApplied = once(topology.events, 'invalidation.applied');
    const created = await fetch(`${base}/api/content`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ slug: 'socket', title: 'Socket' }),
    });
    expect(created.status).toBe(201);
    const record = (await created.json()) as ContentRecord;
    await insertApplied; // the insert's own invalidation, so it cannot land between the two reads

    const miss = await fetch(`${base}/edge/r1/content/${record.id}`);
    expect([miss.status, miss.headers.get('x-cache'), miss.headers.get('x-cache-region')]).toEqual([200, 'MISS', 'r1']);
    expect(await miss.json()).toEqual(record);
    const hit = await fetch(`${base}/edge/r1/content/${record.id}`);
    expect([hit.status, hit.headers.get('x-cache'), hit.headers.get('x-cache-version'), hit.headers.get('age')]).toEqual([200, 'HIT', String(record.version), '0']);
    expect(await hit.json()).toEqual(record);

    const { res, abort } = await openEvents(base);
    const purge = await fetch(`${base}/api/invalidate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ keys: [`content:${record.id}`] }),
    });
    expect(purge.status).toBe(202);
    const { id } = (await purge.json()) as InvalidationStatus;

    const seen: string[] = [];
    for await (const { name: event, data } of serverSentEvents(res.body!)) {
      const payload = JSON.parse(data) as InvalidationStatus & { region?: string };
      seen.push(`${event} ${payload.id ?? ''}`);
      if (event !== 'invalidation.applied' || payload.id !== id) continue;
      expect(payload).toMatchObject({ id, region: 'r1', source: 'purge', keys: [`content:${record.id}`], complete: true });
      expect(payload.regions.r1!.appliedAt).toEqual(expect.any(Number));
      break;
    }
    expect(seen).toEqual([`invalidation.published ${id}`, `invalidation.applied ${id}`]);
    abort.abort();

    const after = await fetch(`${base}/edge/r1/content/${record.id}`);
    expect(after.headers.get('x-cache')).toBe('MISS');
    await after.arrayBuffer();
  });

  it('ends open event streams when the server closes, so a connected dashboard never blocks shutdown', async () => {
    const { app } = await testApp({ config: { regions: [{ name: 'r1', delayMs: 5 }] } });
    const base = await listen(app);
    const { res } = await openEvents(base);
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('retry:');

    const readToEnd = async () => {
      while (!(await reader.read()).done);
    };
    let guard: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      Promise.all([app.close(), readToEnd()]).then(() => 'closed'),
      new Promise<string>((resolve) => (guard = setTimeout(() => resolve('close() still waiting after 5 s'), 5_000))),
    ]);
    clearTimeout(guard);
    expect(outcome).toBe('closed');
  });

  it('keeps a reading client through a burst bigger than the socket buffer, and drops one that stopped reading', async () => {
    const { app, topology } = await testApp({ config: { regions: [{ name: 'r1', delayMs: 5 }] } });
    const base = await listen(app);
    const reading = await openEvents(base);
    const stalled = await openEvents(base); // never read from here on
    // A relay catching up: 2,000 events (about 600 KB) at once.
    const burst = { region: 'r1', settings: { padding: 'x'.repeat(300) } } as never;
    for (let i = 0; i < 2_000; i++) topology.events.emit('region.updated', burst);
    let received = 0;
    for await (const event of serverSentEvents(reading.res.body!)) {
      if (event.name === 'region.updated' && ++received === 2_000) break;
    }
    expect(received).toBe(2_000);
    // More than a megabyte waiting for the stalled client: it is dropped, not buffered for ever.
    for (let i = 0; i < 6_000; i++) topology.events.emit('region.updated', burst);
    const stalledEnds = (async () => {
      for await (const event of serverSentEvents(stalled.res.body!)) void event;
      return 'ended';
    })().catch(() => 'ended');
    expect(await stalledEnds).toBe('ended');
  });
});
