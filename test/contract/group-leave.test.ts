import { expect, it, onTestFinished } from 'vitest';
import { RedisStreamLog } from '../../packages/freshcache/src/adapters/redis/redis-stream-log.js';
import { eventCollector } from '../../packages/freshcache/src/testing/invalidation-log-contract.js';
import { redisForFile } from '../testkit/redis-server.js';

const redisOfFile = redisForFile();
const input = (key: string) => ({ kind: 'invalidate' as const, v: 1, keys: [key], tags: [], prefixes: [], source: 'purge' as const, committedAt: 0 });

it('RedisStreamLog: a consumer that leaves retries what failed, acknowledges everything it was handed, and is deleted from its group (XGROUP DELCONSUMER) with nothing pending', async () => {
  const redis = redisOfFile().client;
  const log = new RedisStreamLog({ redis, namespace: 'leave:', blockMs: 100, claimAfterMs: 60_000 });
  onTestFinished(() => log.close());
  const failed = eventCollector();
  const done = eventCollector();
  const subscription = await log.consume({
    group: 'region:us-east',
    consumer: 'node-1',
    onEvent: async (event) => {
      // Fails on its first event: that one stays pending, and only the leave's retry applies it.
      if (failed.events.length === 0) {
        failed.onEvent(event);
        throw new Error('L2 unreachable');
      }
      done.onEvent(event);
    },
  });
  await log.publish(input('k1'));
  await failed.until(() => failed.events.length === 1);
  const other = await log.consume({ group: 'region:us-east', consumer: 'node-2', onEvent: async () => {} });
  onTestFinished(() => other.close());
  const [pendingBefore] = (await redis.xpending('leave:{log}:events', 'region:us-east')) as [number];
  expect(pendingBefore).toBe(1);
  await subscription.leave!();
  expect(done.keys()).toEqual(['k1']);
  const consumers = (await redis.xinfo('CONSUMERS', 'leave:{log}:events', 'region:us-east')) as string[][];
  const names = consumers.map((fields) => fields[fields.indexOf('name') + 1]);
  expect(names).toEqual(['node-2']);
  // Nothing of node-1's was dropped with it: everything it was handed is acknowledged.
  const pending = (await redis.xpending('leave:{log}:events', 'region:us-east', '-', '+', 100)) as [string, string][];
  expect(pending.filter(([, consumer]) => consumer === 'node-1')).toEqual([]);
});
