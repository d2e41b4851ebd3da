import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { installOutbox } from '../../packages/freshcache/src/adapters/postgres/outbox-install.js';
import type { ContentRecord } from '../../packages/freshcache-server/src/demo/content-store.js';
import { buildApp } from '../../packages/freshcache-server/src/server/app.js';
import { serverSentEvents } from '../../packages/freshcache-server/src/tools/server-sent-events.js';
import { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { testApp, testSqlClient } from '../testkit/test-topology.js';

/** Whether `table` exists in the database. */
async function exists(sql: Awaited<ReturnType<typeof testSqlClient>>, table: string): Promise<boolean> {
  const { rows } = await sql.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [table]);
  return rows[0]!.found !== null;
}

describe('the kernel without the demo app', () => {
  it("creates no table of the demo in the user's database, and serves no route of it", async () => {
    const sql = await testSqlClient();
    await sql.query('CREATE TABLE users (id int PRIMARY KEY, org_id int)');
    await installOutbox(sql, ['users']); // freshcache capture install, as the user runs it
    const topology = await Topology.create({
      config: { capture: { kind: 'outbox', rules: [{ table: 'users', key: 'user:{id}' }] }, regions: [{ name: 'r' }] },
      sql,
    });
    onTestFinished(() => topology.close());
    expect(topology.config.demo).toBe(false);
    expect(await exists(sql, 'public.content')).toBe(false);
    expect(await exists(sql, 'public.freshcache_outbox')).toBe(false);

    const app = await buildApp({ topology });
    onTestFinished(() => app.close());
    for (const url of ['/api/content', '/api/content/1', '/edge/r/content/1']) expect((await app.inject(url)).statusCode, url).toBe(404);
    const tags = (await app.inject('/docs/json')).json<{ tags: { name: string }[] }>().tags.map((t) => t.name);
    expect(tags).not.toContain('content');
  });
});

describe('the demo app', () => {
  it('announces each change made through its API on the event stream as content.changed', async () => {
    const { app } = await testApp({ config: { regions: [{ name: 'r1', delayMs: 0 }] } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const abort = new AbortController();
    onTestFinished(() => abort.abort());
    const events = serverSentEvents((await fetch(`${base}/api/events`, { signal: abort.signal })).body!);

    const json = { 'content-type': 'application/json' };
    const created = (await (await fetch(`${base}/api/content`, { method: 'POST', headers: json, body: JSON.stringify({ slug: 's', title: 'S' }) })).json()) as ContentRecord;
    const updated = (await (await fetch(`${base}/api/content/${created.id}`, { method: 'PUT', headers: json, body: JSON.stringify({ title: 'T' }) })).json()) as ContentRecord;
    expect((await fetch(`${base}/api/content/${created.id}`, { method: 'DELETE' })).status).toBe(204);

    // A purge after them: its event comes after theirs on the stream, so the read ends there even if one is missing.
    const purge = (await (await fetch(`${base}/api/invalidate`, { method: 'POST', headers: json, body: JSON.stringify({ keys: ['end'] }) })).json()) as { id: number };
    const changes: unknown[] = [];
    for await (const { name, data } of events) {
      if (name === 'content.changed') changes.push(JSON.parse(data));
      if (name === 'invalidation.published' && (JSON.parse(data) as { id: number }).id === purge.id) break;
    }
    expect(changes).toEqual([
      { op: 'create', id: created.id, record: created },
      { op: 'update', id: created.id, record: updated },
      { op: 'delete', id: created.id },
    ]);
  });
});
