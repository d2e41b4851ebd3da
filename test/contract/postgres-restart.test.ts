import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { OutboxFeed } from '../../packages/freshcache/src/adapters/postgres/outbox-feed.js';
import { installOutbox } from '../../packages/freshcache/src/adapters/postgres/outbox-install.js';
import { createPgClient } from '../../packages/freshcache/src/adapters/postgres/pg-client.js';
import type { RowChange } from '../../packages/freshcache/src/seams/row-change.js';
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
    await sql.query('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)');
    await installOutbox(sql, ['items']);
    // No polling: only the LISTEN connection wakes the feed, so it must come back.
    const feed = new OutboxFeed({ sql, tables: ['items'], pollMs: 60_000 });
    const seen: RowChange[] = [];
    const delivered = signal();
    await feed.start({
      changes: async (changes) => {
        seen.push(...changes);
        delivered.notify();
      },
      lost: async () => {},
    });
    onTestFinished(() => feed.stop());
    const relayed = (op: string, id: number, name: string) => seen.some((c) => c.op === op && c.new?.id === id && c.new?.name === name);
    const write = (sqlText: string) => sql.query(sqlText);

    await write(`INSERT INTO items VALUES (1, 'A')`);
    await delivered.until(() => relayed('insert', 1, 'A'));
    await write(`INSERT INTO items VALUES (2, 'B')`); // just before the crash: relayed, or still in the outbox

    await crash();
    // Most likely before the feed's LISTEN is back: only its wake-up on reconnect finds it.
    await write(`UPDATE items SET name = 'A2' WHERE id = 1`);
    await delivered.until(() => relayed('insert', 2, 'B') && relayed('update', 1, 'A2'));
    await write(`INSERT INTO items VALUES (3, 'C')`);
    await delivered.until(() => relayed('insert', 3, 'C'));
    // At least once, and nothing left behind (stop() waits for the last batch's delete).
    await feed.stop();
    const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM freshcache.outbox');
    expect(Number(rows[0]!.n)).toBe(0);
  });
});
