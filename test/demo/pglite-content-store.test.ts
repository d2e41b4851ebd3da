import { CONTENT_SCHEMA } from '../../packages/freshcache-server/src/demo/content-schema.js';
import { SqlContentStore } from '../../packages/freshcache-server/src/demo/content-store.js';
import { testSqlClient } from '../testkit/test-topology.js';
import { contentStoreContract } from './content-store-contract.js';

contentStoreContract('SqlContentStore on PGlite', async () => {
  const sql = await testSqlClient();
  await sql.query(CONTENT_SCHEMA);
  return new SqlContentStore(sql);
});
