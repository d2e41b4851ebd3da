import { describe, expect, it, onTestFinished } from 'vitest';
import pg from 'pg';
import { RelayLeader } from '../../packages/freshcache-server/src/topology/relay-leader.js';
import { postgresForFile } from '../testkit/postgres-server.js';

/** Leader election on a real PostgreSQL: one relay leads, a standby takes over when its session ends. */
const postgres = postgresForFile();
let elections = 0;

/** Resolves once `done()` holds, re-checking on every election event. */
let wake = () => {};
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise<void>((resolve) => (wake = resolve));
}

function candidate(name: string, events: string[]) {
  let elected = () => {};
  let deposed = () => {};
  const state = {
    elected: new Promise<void>((resolve) => (elected = resolve)),
    deposed: new Promise<void>((resolve) => (deposed = resolve)),
  };
  const leader = new RelayLeader({
    connectionString: postgres().url,
    electionMs: 50,
    name: `election ${elections}`,
    onElected: async () => {
      events.push(`${name} elected`);
      elected();
      wake();
    },
    onDeposed: async () => {
      events.push(`${name} deposed`);
      deposed();
      wake();
    },
  });
  onTestFinished(() => leader.stop());
  return { leader, ...state };
}

describe('RelayLeader on PostgreSQL', () => {
  it('one candidate leads; a standby takes over when the leader stops, and when its session is killed', async () => {
    elections++;
    const events: string[] = [];
    const a = candidate('a', events);
    await a.leader.start();
    await a.elected;
    const b = candidate('b', events);
    await b.leader.start();
    expect([a.leader.isLeader, b.leader.isLeader]).toEqual([true, false]);

    await a.leader.stop(); // a clean stop releases the lock
    await b.elected;
    expect(events).toEqual(['a elected', 'a deposed', 'b elected']);

    // A leader whose session dies (a crash, a network cut) loses the lock with it.
    const c = candidate('c', events);
    await c.leader.start();
    const admin = new pg.Client({ connectionString: postgres().url });
    await admin.connect();
    onTestFinished(() => admin.end());
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()`);
    await b.deposed;
    // Then exactly one candidate leads again: c, which was waiting, or b, campaigning anew.
    await until(() => events.filter((e) => e.endsWith('elected')).length === 3);
    expect([b.leader.isLeader, c.leader.isLeader].filter(Boolean)).toHaveLength(1);
  });
});

describe('RelayLeader when PostgreSQL is killed (-9) and started again', () => {
  it('is deposed (lost), campaigns until the server is back and leads again, only once its onDeposed has finished', async () => {
    elections++;
    const name = `election ${elections}`;
    const events: string[] = [];
    let finishDeposed = () => {};
    const deposedMayFinish = new Promise<void>((resolve) => (finishDeposed = resolve));
    let deposing = false;
    const leader = new RelayLeader({
      connectionString: postgres().url,
      electionMs: 50,
      name,
      onElected: async () => {
        events.push(deposing ? 'elected while deposing' : 'elected');
        wake();
      },
      onDeposed: async (why) => {
        deposing = true;
        events.push(`deposed (${why})`);
        wake();
        await deposedMayFinish; // a relay that takes a while to stop
        deposing = false;
      },
    });
    onTestFinished(() => leader.stop());
    await leader.start();
    expect(events).toEqual(['elected']);

    await postgres().kill();
    await until(() => events.includes('deposed (lost)'));
    await postgres().start();
    // Once its new session holds the lock again, it must still wait for onDeposed to finish.
    const admin = new pg.Client({ connectionString: postgres().url });
    await admin.connect();
    onTestFinished(() => admin.end());
    const deadline = Date.now() + 20_000;
    while (!(await admin.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid::int = hashtext($1)`, [name])).rows.length) {
      if (Date.now() > deadline) throw new Error('the leader did not take the lock again within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 20)); // PostgreSQL tells no one when a lock is taken
    }
    finishDeposed();
    await until(() => events.length === 3);
    expect(events).toEqual(['elected', 'deposed (lost)', 'elected']);
    expect(leader.isLeader).toBe(true);
  });
});
