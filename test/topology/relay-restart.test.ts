import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { createPgliteClient } from '../../packages/freshcache-server/src/adapters/postgres/pglite-client.js';
import { DemoApp, readContent } from '../../packages/freshcache-server/src/demo/demo-app.js';
import { Topology } from '../../packages/freshcache-server/src/topology/topology.js';

it('after a restart the relay publishes exactly the changes committed while it was down', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'freshcache-restart-'));
  onTestFinished(() => rm(dataDir, { recursive: true, force: true }));
  const config = { seed: false, origin: { kind: 'pglite' as const, dataDir }, regions: [{ name: 'r', delayMs: 0, jitter: 0 }] };

  const demo = new DemoApp();
  const first = await Topology.create({ config, apps: [demo] });
  const published = once(first.events, 'invalidation.published');
  const record = await demo.store.create({ slug: 'a', title: 'v1' });
  await published;
  await first.close();

  // While nothing runs: a change straight in SQL, as psql or a migration would make it.
  const sql = await createPgliteClient({ dataDir });
  await sql.query(`UPDATE content SET title = 'changed while down' WHERE id = $1`, [record.id]);
  await sql.close();

  const second = await Topology.create({ config, apps: [new DemoApp()] });
  onTestFinished(() => second.close());
  // Topology.create resolves once the relay has drained the outbox for the first time.
  const events = second.tracker.recent(10);
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ source: 'cdc', keys: [`content:${record.id}`] });
  expect((await readContent(second.region('r'), record.id)).value.title).toBe('changed while down');
});
