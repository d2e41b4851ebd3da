import { expect, it, onTestFinished } from 'vitest';
import { MemoryLog } from '../../packages/freshcache/src/adapters/memory/memory-log.js';
import { installOutbox } from '../../packages/freshcache/src/adapters/postgres/outbox-install.js';
import { OutboxFeed } from '../../packages/freshcache/src/adapters/postgres/outbox-feed.js';
import { compileRules } from '../../packages/freshcache/src/capture/capture-rules.js';
import type { ChangeFeed, ChangeSink } from '../../packages/freshcache/src/seams/change-feed.js';
import type { InvalidationEvent } from '../../packages/freshcache/src/seams/invalidation-log.js';
import { EVENT_FORMAT_VERSION } from '../../packages/freshcache/src/seams/invalidation-log.js';
import type { RowChange } from '../../packages/freshcache/src/seams/row-change.js';
import { Relay } from '../../packages/freshcache-server/src/topology/relay.js';
import { testSqlClient } from '../testkit/test-topology.js';

const RULES = compileRules(
  [
    { table: 'users', key: 'user:{id}', tags: ['org:{org_id}:users', 'users'], version: 'rev' },
    { table: 'orgs', key: 'org:{id}' },
  ],
  { primaryKeyOf: () => ['id'] },
);

/** A feed the test drives: what it hands over is exactly what the test passes to `deliver`. */
function scriptedFeed() {
  let sink: ChangeSink | undefined;
  const feed: ChangeFeed = {
    start: async (given) => void (sink = given),
    stop: async () => void (sink = undefined),
    position: async () => 0,
  };
  return { feed, deliver: (batch: RowChange[]) => sink!.changes(batch), lose: (reason: string) => sink!.lost(reason) };
}

async function relayOn(feed: ChangeFeed) {
  const log = new MemoryLog();
  const events: InvalidationEvent[] = [];
  const unmappable: string[] = [];
  const relay = new Relay({ feed, log, map: RULES.map, onPublished: (event) => events.push(event), onUnmappable: (error) => unmappable.push(error.message) });
  await relay.start();
  onTestFinished(() => relay.stop());
  return { events, unmappable };
}

const at = (change: Omit<RowChange, 'position' | 'committedAt'>, position = 1): RowChange => ({ position, committedAt: 1000 + position, ...change });

it('publishes one event per transaction with the targets of all its changes, old rows and new (a moved user invalidates both orgs)', async () => {
  const { feed, deliver } = scriptedFeed();
  const { events } = await relayOn(feed);
  await deliver([
    at({ table: 'public.users', op: 'update', old: { id: 1, org_id: 3, rev: 4 }, new: { id: 1, org_id: 7, rev: 5 }, txid: 10 }),
    at({ table: 'public.orgs', op: 'update', old: { id: 7 }, new: { id: 7 }, txid: 10 }),
    at({ table: 'public.users', op: 'delete', old: { id: 2, org_id: 3 }, txid: 11 }, 2),
  ]);
  expect(events).toHaveLength(2);
  expect(events[0]).toMatchObject({ kind: 'invalidate', v: 1, source: 'cdc', committedAt: 1001, version: 5 });
  expect(events[0]!.keys.sort()).toEqual(['org:7', 'user:1']);
  expect(events[0]!.tags.sort()).toEqual(['org:3:users', 'org:7:users', 'users']);
  expect(events[1]!.keys).toEqual(['user:2']);
});

it('inserts and updates of a versioned table carry each key\'s version in keyVersions (the highest per key); deletes and unversioned tables none', async () => {
  const { feed, deliver } = scriptedFeed();
  const { events } = await relayOn(feed);
  await deliver([
    at({ table: 'public.users', op: 'insert', new: { id: 1, org_id: 3, rev: 1 }, txid: 10 }),
    at({ table: 'public.users', op: 'update', old: { id: 1, org_id: 3, rev: 1 }, new: { id: 1, org_id: 3, rev: 2 }, txid: 10 }),
    at({ table: 'public.users', op: 'update', old: { id: 2, org_id: 3, rev: 8 }, new: { id: 2, org_id: 3, rev: '9' }, txid: 10 }),
    at({ table: 'public.orgs', op: 'update', old: { id: 3 }, new: { id: 3 }, txid: 10 }),
    at({ table: 'public.users', op: 'delete', old: { id: 4, org_id: 3, rev: 6 }, txid: 11 }, 2),
  ]);
  expect(events).toHaveLength(2);
  // org:3's table names no version: it is not in keyVersions, so nodes use the generation check.
  expect(events[0]!.keyVersions).toEqual({ 'user:1': 2, 'user:2': 9 });
  expect(events[0]!.keys.sort()).toEqual(['org:3', 'user:1', 'user:2']);
  // Still format v1: a node that ignores keyVersions only drops more.
  expect(events[0]!.v).toBe(1);
  expect(events[1]!.keyVersions).toBeUndefined();
  expect(events[1]!.keys).toEqual(['user:4']);
});

it('a key updated and deleted in one transaction has no keyVersion; another key of the transaction keeps its own', async () => {
  const { feed, deliver } = scriptedFeed();
  const { events } = await relayOn(feed);
  await deliver([
    at({ table: 'public.users', op: 'update', old: { id: 1, org_id: 3, rev: 1 }, new: { id: 1, org_id: 3, rev: 2 }, txid: 10 }),
    at({ table: 'public.users', op: 'delete', old: { id: 1, org_id: 3, rev: 2 }, txid: 10 }),
    at({ table: 'public.users', op: 'insert', new: { id: 5, org_id: 3, rev: 3 }, txid: 10 }),
  ]);
  expect(events[0]!.keys.sort()).toEqual(['user:1', 'user:5']);
  expect(events[0]!.keyVersions).toEqual({ 'user:5': 3 });
});

it('a truncate purges the literal prefixes and placeholder-free tags of the table\'s rules', async () => {
  const { feed, deliver } = scriptedFeed();
  const { events } = await relayOn(feed);
  await deliver([at({ table: 'public.users', op: 'truncate' })]);
  expect(events[0]).toMatchObject({ keys: [], tags: ['users'], prefixes: ['user:'] });
});

it('publishes nothing for a change no rule maps', async () => {
  const { feed, deliver } = scriptedFeed();
  const { events } = await relayOn(feed);
  await deliver([at({ table: 'public.audit', op: 'insert', new: { id: 1 } })]);
  expect(events).toEqual([]);
});

it('a change the rules cannot map flushes everything (format v2, with its reason): it is never skipped', async () => {
  const { feed, deliver } = scriptedFeed();
  const { events, unmappable } = await relayOn(feed);
  // A delete whose old row carries only the key: the org tag cannot be known.
  await deliver([at({ table: 'public.users', op: 'delete', old: { id: 1 } })]);
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ all: true, reason: 'unmappable change', v: 2, keys: [], tags: [], prefixes: [] });
  expect(EVENT_FORMAT_VERSION).toBeGreaterThanOrEqual(2);
  expect(unmappable[0]).toContain('org_id');
});

it('changes a feed lost become a flush of everything; until it is published, the feed is told to hold on', async () => {
  const { feed, deliver, lose } = scriptedFeed();
  const log = new MemoryLog();
  const events: InvalidationEvent[] = [];
  let logDown = true;
  const publish = log.publish.bind(log);
  log.publish = async (input) => {
    if (logDown) throw new Error('log unavailable');
    return publish(input);
  };
  const relay = new Relay({ feed, log, map: RULES.map, onPublished: (event) => events.push(event) });
  await relay.start();
  onTestFinished(() => relay.stop());
  // The feed must not go on (nor forget the loss) while the flush could not be published.
  await expect(lose('capture lost')).rejects.toThrow('log unavailable');
  logDown = false;
  await lose('capture lost');
  await deliver([at({ table: 'public.orgs', op: 'insert', new: { id: 1 } })]);
  expect(events.map((e) => [e.all ?? false, e.reason, e.keys])).toEqual([
    [true, 'capture lost', []],
    [false, undefined, ['org:1']],
  ]);
});

it('a rule that throws (a function rule reading a row a delete does not have) flushes everything instead of stalling capture', async () => {
  const { feed, deliver } = scriptedFeed();
  const log = new MemoryLog();
  const events: InvalidationEvent[] = [];
  const failures: string[] = [];
  const rules = compileRules([{ table: 'orders', map: (change) => ({ keys: [`order:${(change.new as { id: number }).id}`] }) }]);
  const relay = new Relay({ feed, log, map: rules.map, onPublished: (event) => events.push(event), onUnmappable: (error) => failures.push(error.message) });
  await relay.start();
  onTestFinished(() => relay.stop());
  await deliver([at({ table: 'public.orders', op: 'delete', old: { id: 1 } })]);
  expect(events[0]).toMatchObject({ all: true, reason: 'unmappable change' });
  expect(failures[0]).toContain('public.orders');
});

it('a transaction with more targets than maxTargets is one flush of everything, and a huge one does not overflow', async () => {
  const { feed, deliver } = scriptedFeed();
  const log = new MemoryLog();
  const events: InvalidationEvent[] = [];
  const relay = new Relay({ feed, log, map: RULES.map, maxTargets: 3, onPublished: (event) => events.push(event) });
  await relay.start();
  onTestFinished(() => relay.stop());
  const rows = (n: number, txid: number) => Array.from({ length: n }, (_, i) => at({ table: 'public.orgs', op: 'insert', new: { id: i }, txid }));
  await deliver(rows(3, 1));
  await deliver(rows(4, 2));
  await deliver(rows(200_000, 3));
  expect(events.map((e) => [e.all ?? false, e.reason, e.keys.length])).toEqual([
    [false, undefined, 3],
    [true, 'large transaction', 0],
    [true, 'large transaction', 0],
  ]);
});

it('groups the changes of each transaction even when an outbox batch interleaves two', async () => {
  const { feed, deliver } = scriptedFeed();
  const { events } = await relayOn(feed);
  await deliver([
    at({ table: 'public.orgs', op: 'insert', new: { id: 1 }, txid: 7 }, 1),
    at({ table: 'public.orgs', op: 'insert', new: { id: 2 }, txid: 8 }, 2),
    at({ table: 'public.orgs', op: 'insert', new: { id: 3 }, txid: 7 }, 3),
    at({ table: 'public.orgs', op: 'insert', new: { id: 4 }, txid: 8 }, 4),
  ]);
  expect(events.map((e) => e.keys)).toEqual([
    ['org:1', 'org:3'],
    ['org:2', 'org:4'],
  ]);
});

it('the transactions of one batch go to the log in one append, each its own event with the next id; a failed append publishes none and fails the batch, so the feed hands it over again', async () => {
  const { feed, deliver } = scriptedFeed();
  const log = new MemoryLog();
  const appends: number[] = [];
  let logDown = true;
  const publishMany = log.publishMany.bind(log);
  log.publishMany = async (inputs) => {
    if (logDown) throw new Error('log unavailable');
    appends.push(inputs.length);
    return publishMany(inputs);
  };
  const events: InvalidationEvent[] = [];
  const relay = new Relay({ feed, log, map: RULES.map, onPublished: (event) => events.push(event) });
  await relay.start();
  onTestFinished(() => relay.stop());
  const batch = [
    at({ table: 'public.orgs', op: 'insert', new: { id: 1 }, txid: 7 }, 1),
    at({ table: 'public.audit', op: 'insert', new: { id: 9 }, txid: 8 }, 2),
    at({ table: 'public.orgs', op: 'insert', new: { id: 2 }, txid: 9 }, 3),
    at({ table: 'public.users', op: 'delete', old: { id: 5 }, txid: 10 }, 4),
  ];
  // The feed acknowledges its source only when this resolves: nothing of the batch may be on the log.
  await expect(deliver(batch)).rejects.toThrow('log unavailable');
  expect(await log.lastId()).toBe(0);
  logDown = false;
  await deliver(batch);
  // Transaction 8 maps to nothing; 10 cannot be mapped (no org_id), so it flushes everything.
  expect(appends).toEqual([3]);
  expect(events.map((e) => [e.id, e.keys, e.all ?? false])).toEqual([
    [1, ['org:1'], false],
    [2, ['org:2'], false],
    [3, [], true],
  ]);
});

it('a stop() that arrives while the relay is starting (its lock lost with PostgreSQL) stops it once started', async () => {
  const sql = await testSqlClient();
  await sql.query('CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, org_id int)');
  await installOutbox(sql, ['users']);
  const outbox = new OutboxFeed({ sql, tables: ['users'], pollMs: 60_000 });
  onTestFinished(() => outbox.stop());
  // The real outbox feed, with a start that takes as long as the test says and a record of calls.
  const calls: string[] = [];
  let finishStart = () => {};
  const startMayFinish = new Promise<void>((resolve) => (finishStart = resolve));
  const feed: ChangeFeed = {
    start: async (sink) => {
      calls.push('start');
      await startMayFinish;
      await outbox.start(sink);
      calls.push('started');
    },
    stop: async () => {
      calls.push('stop');
      await outbox.stop();
      calls.push('stopped');
    },
    position: () => outbox.position(),
  };
  const relay = new Relay({ feed, log: new MemoryLog(), map: RULES.map });

  const starting = relay.start();
  const stopping = relay.stop();
  finishStart();
  await Promise.all([starting, stopping]);
  expect(calls).toEqual(['start', 'started', 'stop', 'stopped']);
  expect(relay.isRunning).toBe(false);
});
