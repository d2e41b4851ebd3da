import { onTestFinished } from 'vitest';
import { createPgClient } from '../../src/adapters/postgres/pg-client.js';
import { SqlOriginStore } from '../../src/adapters/postgres/sql-origin-store.js';
import { postgresForFile } from '../testkit/postgres-server.js';
import { originStoreContract } from './origin-store-contract.js';

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

originStoreContract('SqlOriginStore on PostgreSQL', async () => new SqlOriginStore(await freshClient()));
