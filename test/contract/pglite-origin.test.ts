import { SqlOriginStore } from '../../src/adapters/postgres/sql-origin-store.js';
import { testSqlClient } from '../testkit/test-topology.js';
import { originStoreContract } from './origin-store-contract.js';

originStoreContract('SqlOriginStore on PGlite', async () => new SqlOriginStore(await testSqlClient()));
