import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadReport } from '../../packages/freshcache-server/src/tools/load/load-report.js';
import { runCli, runTs } from '../testkit/cli-process.js';
import { postgresForFile } from '../testkit/postgres-server.js';
import { redisForFile } from '../testkit/redis-server.js';

/**
 * examples/users-service as a user runs it: PostgreSQL and Redis, the relay from the example's
 * own freshcache.json (`freshcache relay --config`), and two instances of the service in one
 * region. Rows change through plain SQL only; both instances must then serve the change.
 */
const EXAMPLE = resolve(import.meta.dirname, '../../examples/users-service');
const CLI = resolve(import.meta.dirname, '../../packages/freshcache-server/src/cli/main.ts');
/** Turns a change that never shows into a failure (the cache's TTL is 5 min, far beyond it). */
const GUARD_MS = 15_000;

type Run = ReturnType<typeof runTs>;
interface Instance {
  name: string;
  url: string;
}
interface Reply {
  status: number;
  cache: string | null;
  body: unknown;
}

const postgres = postgresForFile();
const redis = redisForFile();
const running: Run[] = [];
let db: pg.Client;
let databaseUrl: string;
let instances: Instance[] = [];

const get = async (instance: Instance, path: string): Promise<Reply> => {
  const response = await fetch(`${instance.url}${path}`);
  return { status: response.status, cache: response.headers.get('x-cache'), body: await response.json() };
};

/**
 * Reads `path` from every instance until `fresh` holds for each, or fails after the guard with
 * the last reply: the test waits on the change showing, never on a sleep.
 */
async function untilEvery(path: string, fresh: (reply: Reply) => boolean): Promise<void> {
  const deadline = Date.now() + GUARD_MS;
  for (const instance of instances) {
    for (;;) {
      const reply = await get(instance, path);
      if (fresh(reply)) break;
      if (Date.now() > deadline) throw new Error(`${instance.name} still answers ${path} with ${JSON.stringify(reply)}`);
    }
  }
}

/** Reads `path` twice from every instance: the second read is served from the cache. */
async function warm(path: string): Promise<void> {
  for (const instance of instances) {
    await get(instance, path);
    const again = await get(instance, path);
    expect(again.status, `${instance.name} ${path}`).toBe(200);
    expect(again.cache, `${instance.name} ${path}`).toBe('HIT');
  }
}

const memberIds = (reply: Reply) => (reply.body as { users: { id: number }[] }).users.map((u) => u.id);

describe('examples/users-service: two instances and a relay, rows changed in SQL', () => {
  beforeAll(async () => {
    databaseUrl = await postgres().createDatabase('users_service');
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    await db.query(await readFile(resolve(EXAMPLE, 'schema.sql'), 'utf8'));
    // The users rule's version column and the trigger that bumps it, as the README has them made.
    const install = runTs(CLI, ['capture', 'install', '--config', resolve(EXAMPLE, 'freshcache.json'), '--version-columns', '--apply'], { FRESHCACHE_POSTGRES_URL: databaseUrl }, 'capture install');
    expect((await install.exit()).code, install.stderr()).toBe(0);
    await db.query(`INSERT INTO orgs (id, name) VALUES (3, 'Acme'), (7, 'Globex')`);
    await db.query(`INSERT INTO users (id, org_id, name, email) VALUES
      (1, 3, 'Ada', 'ada@acme.test'), (2, 3, 'Brian', 'brian@acme.test'), (3, 7, 'Chen', 'chen@globex.test'), (5, 3, 'Eve', 'eve@acme.test')`);

    const redisUrl = redis().server.url;
    // The example's file as it is; only where PostgreSQL and Redis are comes from the environment.
    const relay = runTs(CLI, ['relay', '--config', resolve(EXAMPLE, 'freshcache.json')], {
      FRESHCACHE_POSTGRES_URL: databaseUrl,
      FRESHCACHE_REDIS_URL: redisUrl,
      FRESHCACHE_PORT: '0',
      FRESHCACHE_STOP_WITH_PARENT: '1',
    }, 'relay');
    running.push(relay);
    await relay.untilStdout(/serving relay \(a relay candidate, leading\)/);

    instances = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const service = runTs(resolve(EXAMPLE, 'src/main.ts'), [], { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REGION: 'eu-west', HOST: '127.0.0.1', PORT: '0' }, `users-service ${name}`);
        running.push(service);
        const [, url] = await service.untilStdout(/users-service listening at (http:\/\/\S+)/);
        await service.untilStdout(/users-service follows the invalidation log/);
        return { name, url: url! };
      }),
    );
  }, 90_000);

  afterAll(async () => {
    for (const run of running.reverse()) {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGTERM');
      await run.exit().catch(() => run.child.kill('SIGKILL'));
    }
    await db?.end();
  });

  it('serves users and org lists from the cache once read, with 404 and 400 as { error }', async () => {
    const [a] = instances as [Instance];
    expect(await get(a, '/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await get(a, '/users/1')).toMatchObject({ status: 200, body: { id: 1, org_id: 3, name: 'Ada', email: 'ada@acme.test' } });
    await warm('/users/1');
    await warm('/orgs/3/users');
    expect(await get(a, '/orgs/3/users')).toMatchObject({ body: { org: { id: 3, name: 'Acme' } } });
    expect(await get(a, '/users/99')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await get(a, '/users/abc')).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
  });

  // freshcache load drives any service that answers X-Cache-Version: reads through both instances,
  // writes in SQL; the region has no delay, so the bound is the margin (generous: a shared machine).
  it('under freshcache load (--read-path, --sql, --write-sql) no read is stale beyond the margin', async () => {
    const [a, b] = instances as [Instance, Instance];
    const load = runCli('load', [
      '--target', `eu-west=${a.url},eu-west=${b.url}`,
      '--read-path', '/users/{id}',
      '--keys', '3',
      '--sql', databaseUrl,
      '--write-sql', 'UPDATE users SET name = $2 WHERE id = $1 RETURNING version',
      '--delay', 'eu-west=0',
      '--margin', '500',
      '--duration', '3s',
      '--rate', '200',
      '--read-ratio', '0.9',
      '--json',
    ]);
    const { code } = await load.exit();
    const report = JSON.parse(load.stdout()) as LoadReport;
    expect(report.writes).toMatchObject({ failed: 0 });
    expect(report.writes.ok).toBeGreaterThan(0);
    expect(report.totals.failedReads).toBe(0);
    const [region] = report.regions;
    expect(region!.region).toBe('eu-west');
    expect(region!.unversioned).toBe(0);
    expect(region!.freshness.judged).toBeGreaterThan(0);
    expect(region!.freshness.staleBeyondBound).toBe(0);
    expect(code).toBe(0);
  });

  it('a user moved from org 3 to org 7: both org lists and the user are fresh on both instances', async () => {
    for (const path of ['/users/1', '/orgs/3/users', '/orgs/7/users']) await warm(path);
    await db.query('UPDATE users SET org_id = 7 WHERE id = 1');

    await untilEvery('/orgs/3/users', (reply) => !memberIds(reply).includes(1));
    await untilEvery('/orgs/7/users', (reply) => memberIds(reply).includes(1));
    await untilEvery('/users/1', (reply) => (reply.body as { org_id: number }).org_id === 7);
    for (const instance of instances) {
      expect(memberIds(await get(instance, '/orgs/3/users'))).toEqual([2, 5]);
      expect(memberIds(await get(instance, '/orgs/7/users'))).toEqual([1, 3]);
    }
  });

  it('an org renamed: its list shows the new name on both instances', async () => {
    await warm('/orgs/7/users');
    await db.query(`UPDATE orgs SET name = 'Globex Corp' WHERE id = 7`);
    await untilEvery('/orgs/7/users', (reply) => (reply.body as { org: { name: string } }).org.name === 'Globex Corp');
  });

  it('a user inserted shows up in its org list on both instances', async () => {
    await warm('/orgs/7/users');
    await db.query(`INSERT INTO users (id, org_id, name, email) VALUES (4, 7, 'Dana', 'dana@globex.test')`);
    await untilEvery('/orgs/7/users', (reply) => memberIds(reply).includes(4));
    await untilEvery('/users/4', (reply) => reply.status === 200);
  });

  it('a deleted user: 404 on both instances, and gone from its org list', async () => {
    for (const path of ['/users/2', '/orgs/3/users']) await warm(path);
    await db.query('DELETE FROM users WHERE id = 2');
    await untilEvery('/users/2', (reply) => reply.status === 404);
    await untilEvery('/orgs/3/users', (reply) => !memberIds(reply).includes(2));
    for (const instance of instances) {
      expect(await get(instance, '/users/2')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
      expect(memberIds(await get(instance, '/orgs/3/users'))).toEqual([5]);
    }
  });

  it('TRUNCATE users: every user 404 and every org list empty on both instances', async () => {
    const users = ['/users/1', '/users/3', '/users/4', '/users/5'];
    for (const path of [...users, '/orgs/3/users', '/orgs/7/users']) await warm(path);
    for (const instance of instances) {
      expect(memberIds(await get(instance, '/orgs/3/users'))).toEqual([5]);
      expect(memberIds(await get(instance, '/orgs/7/users'))).toEqual([1, 3, 4]);
    }
    await db.query('TRUNCATE users');
    for (const path of users) await untilEvery(path, (reply) => reply.status === 404);
    for (const path of ['/orgs/3/users', '/orgs/7/users']) await untilEvery(path, (reply) => reply.status === 200 && memberIds(reply).length === 0);
  });
});
