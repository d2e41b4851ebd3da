import { expect, it, onTestFinished } from 'vitest';
import { MemoryLog } from '../../src/adapters/memory/memory-log.js';
import { OutboxFeed } from '../../src/adapters/postgres/outbox-feed.js';
import type { ChangeFeed } from '../../src/seams/change-feed.js';
import { Relay } from '../../src/topology/relay.js';
import { testSqlClient } from '../testkit/test-topology.js';

it('a stop() that arrives while the relay is starting (its lock lost with PostgreSQL) stops it once started', async () => {
  const sql = await testSqlClient();
  const outbox = new OutboxFeed({ sql, pollMs: 60_000 });
  onTestFinished(() => outbox.stop());
  // The real outbox feed, with a start that takes as long as the test says and a record of calls.
  const calls: string[] = [];
  let finishStart = () => {};
  const startMayFinish = new Promise<void>((resolve) => (finishStart = resolve));
  const feed: ChangeFeed = {
    start: async (onChanges) => {
      calls.push('start');
      await startMayFinish;
      await outbox.start(onChanges);
      calls.push('started');
    },
    stop: async () => {
      calls.push('stop');
      await outbox.stop();
      calls.push('stopped');
    },
    position: () => outbox.position(),
  };
  const log = new MemoryLog();
  const relay = new Relay({ feed, log });

  const starting = relay.start();
  const stopping = relay.stop();
  finishStart();
  await Promise.all([starting, stopping]);
  expect(calls).toEqual(['start', 'started', 'stop', 'stopped']);
  expect(relay.isRunning).toBe(false);
});
