import { describe, expect, it } from 'vitest';
import { createCache } from '../../packages/freshcache/src/create-cache.js';

/** A gate the test opens when it wants: a slow origin read, under control. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('loadMany and the signals of its keys', () => {
  it('a loadMany batch that passes its signals on, aborted by an invalidation of one key, reads the other keys on their own', async () => {
    const cache = createCache();
    const slow = gate();
    const singles: string[] = [];
    cache.define('user:{id}', {
      load: (params) => {
        singles.push(params.id!);
        return `user ${params.id} alone`;
      },
      // One query for the batch: it stops when any key's load is no longer wanted.
      loadMany: async (params, contexts) => {
        const signal = AbortSignal.any(contexts.map((context) => context.signal));
        await new Promise<void>((resolve, reject) => {
          void slow.opened.then(resolve);
          signal.addEventListener('abort', () => reject(signal.reason as Error));
        });
        return params.map((p) => `user ${p.id}`);
      },
    });
    const many = cache.loadMany(['user:1', 'user:2']);
    await Promise.resolve();
    await cache.invalidate({ keys: ['user:2'] });
    slow.open();
    const results = await many;
    expect(results).toEqual([
      { status: 'fulfilled', value: 'user 1 alone' },
      { status: 'fulfilled', value: 'user 2 alone' },
    ]);
    expect(singles.sort()).toEqual(['1', '2']);
    expect(cache.stats.loadErrors).toBe(0);
  });
});
