import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { OutboxFeed } from '../../src/adapters/postgres/outbox-feed.js';
import { createPgClient } from '../../src/adapters/postgres/pg-client.js';
import { SqlOriginStore } from '../../src/adapters/postgres/sql-origin-store.js';
import type { Change } from '../../src/seams/change-feed.js';
import { postgresForFile } from '../testkit/postgres-server.js';
import { signal } from '../testkit/signal.js';

/**
 * The PostgreSQL client and the outbox feed when the server is killed (-9) and started again
 * under them: its backends end every session with 57P01, which pg reports as an 'error' event.
 * Unhandled, that event would crash the test process; here each client reports it and reconnects.
 */
const postgres = postgresForFile();
let databases = 0;

async function freshClient() {
  const url = await postgres().createDatabase(`r${++databases}`);
  const errors: unknown[] = [];
  const sql = await createPgClient({ connectionString: url, onError: (error) => errors.push(error) });
  onTestFinished(() => sql.close());
  return { url, sql, errors };
}

async function crash() {
  await postgres().kill();
  await postgres().start();
}

describe('PostgreSQL killed and restarted under its clients', () => {
  it('listen(): the LISTEN connection comes back by itself, wakes its listener once, and hears NOTIFY again', async () => {
    const { url, sql, errors } = await freshClient();
    let wakes = 0;
    const woken = signal();
    const unlisten = await sql.listen('restart_test', () => {
      wakes++;
      woken.notify();
    });
    onTestFinished(() => unlisten());
    const notify = async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query('NOTIFY restart_test').finally(() => client.end());
    };
    await notify();
    await woken.until(() => wakes === 1);

    await crash();
    // A NOTIFY sent while it reconnected would be lost: it wakes its listener once it is back.
    await woken.until(() => wakes === 2);
    expect(errors.length).toBeGreaterThan(0); // the lost session was reported, not thrown
    await notify();
    await woken.until(() => wakes === 3);
  });

  it('OutboxFeed: resumes by itself and delivers every change committed before and after the restart', async () => {
    const { sql } = await freshClient();
    const origin = new SqlOriginStore(sql);
    // No polling: only the LISTEN connection wakes the feed, so it must come back.
    const feed = new OutboxFeed({ sql, pollMs: 60_000 });
    const seen: Change[] = [];
    const delivered = signal();
    await feed.start(async (changes) => {
      seen.push(...changes);
      delivered.notify();
    });
    onTestFinished(() => feed.stop());
    const relayed = (id: number, version: number) => seen.some((c) => c.contentId === id && c.version >= version);

    const a = await origin.create({ slug: 'a', title: 'A' });
    await delivered.until(() => relayed(a.id, a.version));
    const b = await origin.create({ slug: 'b', title: 'B' }); // just before the crash: relayed, or still in the outbox

    await crash();
    // Most likely before the feed's LISTEN is back: only its wake-up on reconnect finds it.
    const a2 = (await origin.update(a.id, { title: 'A2' }))!;
    await delivered.until(() => relayed(b.id, b.version) && relayed(a2.id, a2.version));
    const c = await origin.create({ slug: 'c', title: 'C' });
    await delivered.until(() => relayed(c.id, c.version));
    // At least once, and nothing left behind (stop() waits for the last batch's delete).
    await feed.stop();
    const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM freshcache_outbox');
    expect(Number(rows[0]!.n)).toBe(0);
  });
});
