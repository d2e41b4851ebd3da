import { expect, it } from 'vitest';
import { MemoryLog } from '../../packages/freshcache/src/adapters/memory/memory-log.js';
import { invalidationLogContract } from '../../packages/freshcache/src/testing/invalidation-log-contract.js';

invalidationLogContract('MemoryLog', async ({ retain, retryAfterMs }) => new MemoryLog({ retain, retryAfterMs }));

it('MemoryLog: a subscriber that throws does not keep the event from the others', async () => {
  const errors: unknown[] = [];
  const log = new MemoryLog({ onSubscriberError: (error) => errors.push(error) });
  const seen: number[] = [];
  log.subscribe({ afterId: 0, onEvent: () => { throw new Error('dashboard broke'); } });
  log.subscribe({ afterId: 0, onEvent: (e) => seen.push(e.id) });
  const event = await log.publish({ kind: 'invalidate', v: 1, keys: ['k'], tags: [], prefixes: [], source: 'purge', committedAt: 0 });
  expect(seen).toEqual([event.id]);
  expect(errors).toHaveLength(1);
});
