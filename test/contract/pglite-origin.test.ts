import { OutboxFeed } from '../../src/adapters/postgres/outbox-feed.js';
import { SqlOriginStore } from '../../src/adapters/postgres/sql-origin-store.js';
import { testSqlClient } from '../testkit/test-topology.js';
import { changeFeedContract } from './change-feed-contract.js';
import { originStoreContract } from './origin-store-contract.js';

originStoreContract('SqlOriginStore on PGlite', async () => new SqlOriginStore(await testSqlClient()));

changeFeedContract('OutboxFeed on PGlite', async () => {
  const sql = await testSqlClient();
  // A long poll: the tests must pass on NOTIFY wake-ups and redelivery alone.
  return { origin: new SqlOriginStore(sql), newFeed: () => new OutboxFeed({ sql, pollMs: 60_000 }) };
});
