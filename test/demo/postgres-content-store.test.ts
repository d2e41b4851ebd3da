import { expect, it, onTestFinished } from 'vitest';
import { createPgClient } from '../../packages/freshcache/src/adapters/postgres/pg-client.js';
import { CONTENT_SCHEMA } from '../../packages/freshcache-server/src/demo/content-schema.js';
import { SqlContentStore } from '../../packages/freshcache-server/src/demo/content-store.js';
import { postgresForFile } from '../testkit/postgres-server.js';
import { contentStoreContract } from './content-store-contract.js';

/**
 * The same contract suite as PGlite, against a real PostgreSQL server this file starts on a free
 * port in a temp folder. Each test gets a database of its own.
 */
const postgres = postgresForFile();
let databases = 0;

async function freshClient() {
  const client = await createPgClient({ connectionString: await postgres().createDatabase(`t${++databases}`) });
  onTestFinished(() => client.close());
  return client;
}

contentStoreContract('SqlContentStore on PostgreSQL', async () => {
  const sql = await freshClient();
  await sql.query(CONTENT_SCHEMA);
  return new SqlContentStore(sql);
});

// Every process of a deployment installs the demo's schema as it starts, several at once (freshcache up).
it('installs the schema from several connections at once, and again, without an error', async () => {
  const url = await postgres().createDatabase(`t${++databases}`);
  const clients = await Promise.all([1, 2, 3, 4].map(() => createPgClient({ connectionString: url, max: 1 })));
  onTestFinished(() => Promise.all(clients.map((client) => client.close())).then(() => undefined));
  await Promise.all(clients.map((client) => client.query(CONTENT_SCHEMA)));
  await clients[0]!.query(CONTENT_SCHEMA);
  const store = new SqlContentStore(clients[1]!);
  const created = await store.create({ slug: 'a', title: 'A' });
  expect((await store.update(created.id, { title: 'B' }))!.version).toBeGreaterThan(created.version);
});
