import { afterAll, beforeAll } from 'vitest';
import { startPostgres } from '../../packages/freshcache-server/src/tools/local-postgres.js';
import type { PostgresServer } from '../../packages/freshcache-server/src/tools/local-postgres.js';

// The test kit uses the same local servers as `freshcache up`.
export * from '../../packages/freshcache-server/src/tools/local-postgres.js';

/**
 * A PostgreSQL server of the calling test file: started before its tests, stopped after them.
 * Returns an accessor, since the server exists only once `beforeAll` ran.
 */
export function postgresForFile(): () => PostgresServer {
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('the PostgreSQL server of this file is not started (use it inside a test or hook)');
    return server;
  };
}
