import { expect, it, onTestFinished } from 'vitest';
import pg from 'pg';
import { startTopology } from '../../packages/freshcache-server/src/cli/commands/serve.js';
import { postgresForFile } from '../testkit/postgres-server.js';
import { redisForFile } from '../testkit/redis-server.js';

/**
 * On PostgreSQL the database is the user's: a node started as `freshcache serve` starts it, from a
 * config that names no capture rules and says nothing of the demo (an edge node's config), must not
 * create the demo's table there, nor serve the demo's writable routes.
 */
const postgres = postgresForFile();
const redis = redisForFile();

it("an edge node on a user's PostgreSQL creates no table of the demo there and serves none of its routes", async () => {
  const url = await postgres().createDatabase('users_app');
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  onTestFinished(() => sql.end());
  // The user's own table of that name, which the demo's schema would alter.
  await sql.query('CREATE TABLE content (id int PRIMARY KEY, title text)');
  const { topology, app } = await startTopology({
    roles: { regions: ['us-east'], relay: false },
    regions: [{ name: 'us-east' }],
    origin: { kind: 'postgres', url },
    log: { kind: 'redis', redis: { url: redis().server.url } },
  });
  onTestFinished(() => app.close().then(() => topology.close()));
  const { rows } = await sql.query<{ columns: string[]; ident: string }>(
    `SELECT ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum) AS columns,
            relreplident AS ident
       FROM pg_class c WHERE c.oid = 'public.content'::regclass`,
  );
  expect(rows[0]).toEqual({ columns: ['id', 'title'], ident: 'd' });
  expect((await app.inject({ method: 'POST', url: '/api/content', payload: { slug: 'x', title: 'X' } })).statusCode).toBe(404);
  await sql.query(`UPDATE content SET title = 'still works'`); // no demo trigger in the way
});
