import { describe, expect, it } from 'vitest';
import { createCache } from '../../packages/freshcache/src/create-cache.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import { FreshcacheError } from '../../packages/freshcache/src/engine/errors.js';
import type { TemplateParams } from '../../packages/freshcache/src/engine/loader-registry.js';
import type { LoadContext } from '../../packages/freshcache/src/engine/tiered-cache.js';

/** A gate the test opens when it wants: a slow origin read, under control. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

function setup() {
  const clock = new ManualClock();
  return { clock, cache: createCache({ clock, l2: 'memory' }) };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof FreshcacheError ? error.code : String(error);
  }
}

describe('define: loaders registered by key template', () => {
  it('getOrLoad without a loader loads through the matching template, with its params and context', async () => {
    const { clock, cache } = setup();
    const seen: TemplateParams[] = [];
    cache.define('org:{org}:user:{id}', {
      load: (params, ctx) => {
        seen.push(params);
        ctx.version = 4;
        ctx.tags = [`org:${params.org}`];
        ctx.ttlMs = 1000;
        return { name: `user ${params.id}` };
      },
    });
    expect(await cache.getOrLoad('org:3:user:7')).toEqual({ name: 'user 7' });
    expect(seen).toEqual([{ org: '3', id: '7' }]);
    expect(await cache.lookupOrLoad('org:3:user:7')).toMatchObject({ state: 'HIT', version: 4, tags: ['org:3'] });
    expect(seen).toHaveLength(1);
    // The context's tags are the entry's: a purge of the tag reaches it.
    await cache.invalidate({ tags: ['org:3'] });
    await cache.getOrLoad('org:3:user:7');
    expect(seen).toHaveLength(2);
    // And its TTL.
    clock.advance(1000);
    await cache.getOrLoad('org:3:user:7');
    expect(seen).toHaveLength(3);
  });

  it('a call-site loader wins over the defined one', async () => {
    const { cache } = setup();
    cache.define('user:{id}', { load: () => 'defined' });
    expect(await cache.getOrLoad('user:1', () => 'call site')).toBe('call site');
    expect((await cache.lookupOrLoad('user:2', () => 'call site')).value).toBe('call site');
  });

  it('a key no template matches, with no call-site loader, is a no_loader error', async () => {
    const { cache } = setup();
    cache.define('user:{id}', { load: () => 'u' });
    expect(await codeOf(cache.getOrLoad('team:1'))).toBe('no_loader');
    expect(await codeOf(cache.lookupOrLoad('team:1'))).toBe('no_loader');
    expect(await codeOf(cache.load('team:1'))).toBe('no_loader');
    // Even when the key is cached: whether a reader may call without a loader does not depend on timing.
    await cache.set('team:1', 't');
    expect(await codeOf(cache.getOrLoad('team:1'))).toBe('no_loader');
    // An invalid key is still reported as one.
    expect(await codeOf(cache.getOrLoad(''))).toBe('invalid_key');
  });

  it('refuses a template defined twice and one as specific as a defined one that shares its keys; the first defined wins on colliding values', async () => {
    const { cache } = setup();
    cache.define('user:{id}', { load: () => 'user' });
    const refused = (template: string) => {
      try {
        cache.define(template, { load: () => 'x' });
        return undefined;
      } catch (error) {
        return error instanceof FreshcacheError ? `${error.code}: ${error.message}` : String(error);
      }
    };
    expect(refused('user:{id}')).toMatch(/^bad_request: .*already defined/);
    expect(refused('user:{uid}')).toMatch(/^bad_request: .*overlaps "user:\{id\}"/);
    expect(refused('user:{id')).toMatch(/Key template/);

    // Templates that share a literal prefix but not their keys live side by side.
    cache.define('users:{id}', { load: () => 'users' });
    cache.define('org:{org}:user:{id}', { load: () => 'member' });
    cache.define('org:{org}:team:{id}', { load: () => 'team' });
    expect(await cache.getOrLoad('users:1')).toBe('users');
    expect(await cache.getOrLoad('org:1:user:2')).toBe('member');
    expect(await cache.getOrLoad('org:1:team:2')).toBe('team');
    // Values chosen to collide match both: the first defined loads.
    expect(await cache.getOrLoad('org:a:team:b:user:c')).toBe('member');
  });

  it('a key goes to the most specific template that matches it, whichever was defined first', async () => {
    const { cache } = setup();
    cache.define('org:{id}', { load: ({ id }) => `org ${id}` });
    cache.define('org:{id}:users', { load: ({ id }) => `users of ${id}` });
    cache.define('user:admin', { load: () => 'the admin' });
    cache.define('user:{id}', { load: ({ id }) => `user ${id}` });
    expect(await cache.getOrLoad('org:5')).toBe('org 5');
    expect(await cache.getOrLoad('org:5:users')).toBe('users of 5');
    expect(await cache.getOrLoad('user:admin')).toBe('the admin');
    expect(await cache.getOrLoad('user:7')).toBe('user 7');
  });

  it('load(key) reloads what the cache holds, in one flight with concurrent readers', async () => {
    const { cache } = setup();
    let calls = 0;
    let current = 'v1';
    let slow = gate();
    cache.define('user:{id}', {
      load: async () => {
        calls++;
        await slow.opened;
        return current;
      },
    });
    // A refresh starts first; readers on a miss join it.
    const refresh = cache.load('user:1');
    const readers = [cache.getOrLoad('user:1'), cache.getOrLoad('user:1'), cache.lookupOrLoad('user:1').then((l) => l.value)];
    slow.open();
    expect(await refresh).toBe('v1');
    expect(await Promise.all(readers)).toEqual(['v1', 'v1', 'v1']);
    expect(calls).toBe(1);

    // A refresh replaces what is cached, even while it is fresh.
    current = 'v2';
    slow = gate();
    const reload = cache.load('user:1');
    // Readers keep the cached value meanwhile, and another load joins the flight.
    expect(await cache.getOrLoad('user:1')).toBe('v1');
    const again = cache.load('user:1');
    slow.open();
    expect(await reload).toBe('v2');
    expect(await again).toBe('v2');
    expect(calls).toBe(2);
    expect(await cache.getOrLoad('user:1')).toBe('v2');

    // A reader's miss first: the refresh joins it.
    await cache.delete('user:1');
    slow = gate();
    const reader = cache.getOrLoad('user:1');
    const joined = cache.load('user:1');
    slow.open();
    expect([await reader, await joined]).toEqual(['v2', 'v2']);
    expect(calls).toBe(3);
  });

  it('load(key) overtaken by an invalidation of the key is aborted and reads the key again', async () => {
    const { cache } = setup();
    const slow = gate();
    let origin = 'before the change';
    const signals: AbortSignal[] = [];
    cache.define('user:{id}', {
      load: async (_params, context) => {
        signals.push(context.signal);
        const row = origin;
        await slow.opened;
        return row;
      },
    });
    const refresh = cache.load('user:1');
    origin = 'after the change';
    await cache.invalidate({ keys: ['user:1'] });
    slow.open();
    expect(await refresh).toBe('after the change');
    expect(signals.map((signal) => signal.aborted)).toEqual([true, false]);
    expect(cache.stats.staleSetsRefused).toBe(1);
    expect(await cache.get('user:1')).toBe('after the change');
  });

  it('loadMany calls each template loadMany once, falls back to load per key, and answers aligned with the keys', async () => {
    const { cache } = setup();
    const batches: { params: TemplateParams[]; keys: string[] }[] = [];
    const single: string[] = [];
    cache.define('user:{id}', {
      load: () => {
        throw new Error('user keys go through loadMany');
      },
      loadMany: (params, contexts) => {
        batches.push({ params: [...params], keys: contexts.map((c) => c.key) });
        contexts.forEach((c, i) => (c.tags = [`user-batch:${params[i]!.id}`]));
        return params.map((p) => (p.id === '404' ? undefined : `user ${p.id}`));
      },
    });
    cache.define('team:{id}', {
      load: (params) => {
        single.push(params.id!);
        return `team ${params.id}`;
      },
    });
    const results = await cache.loadMany(['user:1', 'team:1', 'user:2', 'user:1', 'team:2', 'user:404']);
    expect(batches).toEqual([{ params: [{ id: '1' }, { id: '2' }, { id: '404' }], keys: ['user:1', 'user:2', 'user:404'] }]);
    expect(single.sort()).toEqual(['1', '2']);
    expect(results.slice(0, 5)).toEqual([
      { status: 'fulfilled', value: 'user 1' },
      { status: 'fulfilled', value: 'team 1' },
      { status: 'fulfilled', value: 'user 2' },
      { status: 'fulfilled', value: 'user 1' },
      { status: 'fulfilled', value: 'team 2' },
    ]);
    expect(results[5]).toMatchObject({ status: 'rejected', reason: { code: 'not_found' } });
    // Filled through the usual path: cached, with the tags each context was given.
    expect(await cache.lookup('user:2')).toMatchObject({ state: 'HIT', value: 'user 2', tags: ['user-batch:2'] });
    expect(await cache.get('team:2')).toBe('team 2');
    expect(await cache.get('user:404')).toBeUndefined();
  });

  it('loadMany refuses the whole call, loading nothing, when a key has no defined template', async () => {
    const { cache } = setup();
    let calls = 0;
    cache.define('user:{id}', { load: () => ++calls });
    expect(await codeOf(cache.loadMany(['user:1', 'nobody:1']))).toBe('no_loader');
    expect(calls).toBe(0);
  });

  it('loadMany shares the flights of keys already loading and keeps them out of the batch', async () => {
    const { cache } = setup();
    const slow = gate();
    const batched: string[][] = [];
    let singles = 0;
    cache.define('user:{id}', {
      load: async (params) => {
        singles++;
        await slow.opened;
        return `single ${params.id}`;
      },
      loadMany: (params) => {
        batched.push(params.map((p) => p.id!));
        return params.map((p) => `batch ${p.id}`);
      },
    });
    const reader = cache.getOrLoad('user:1');
    const many = cache.loadMany(['user:1', 'user:2']);
    slow.open();
    expect(await reader).toBe('single 1');
    expect((await many).map((r) => (r.status === 'fulfilled' ? r.value : r.reason))).toEqual(['single 1', 'batch 2']);
    expect(batched).toEqual([['2']]);
    expect(singles).toBe(1);
  });

  it('a loadMany batch overtaken by an invalidation of one of its keys reads that key again on its own', async () => {
    const { cache } = setup();
    const slow = gate();
    cache.define('user:{id}', {
      load: (params) => `user ${params.id} read again`,
      loadMany: async (params, contexts) => {
        contexts.forEach((c) => (c.tags = ['users']));
        await slow.opened;
        return params.map((p) => `user ${p.id}`);
      },
    });
    const many = cache.loadMany(['user:1', 'user:2']);
    await cache.invalidate({ keys: ['user:2'] });
    slow.open();
    expect((await many).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(cache.stats.staleSetsRefused).toBe(1);
    expect(await cache.get('user:1')).toBe('user 1');
    expect(await cache.get('user:2')).toBe('user 2 read again');
  });

  it('loadMany through a template without loadMany runs at most 8 loads at a time', async () => {
    const { cache } = setup();
    let running = 0;
    let most = 0;
    const waiting: (() => void)[] = [];
    cache.define('user:{id}', {
      load: async (params: TemplateParams, _ctx: LoadContext) => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => waiting.push(resolve));
        running--;
        return params.id;
      },
    });
    const keys = Array.from({ length: 20 }, (_, i) => `user:${i}`);
    const many = cache.loadMany(keys);
    // Release loads one at a time as they start, until all have run.
    for (let released = 0; released < keys.length; released++) {
      while (waiting.length === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      waiting.shift()!();
    }
    const results = await many;
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(most).toBe(8);
  });
});
