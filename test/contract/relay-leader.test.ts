import { describe, expect, it, onTestFinished } from 'vitest';
import pg from 'pg';
import { RelayLeader } from '../../src/topology/relay-leader.js';
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
