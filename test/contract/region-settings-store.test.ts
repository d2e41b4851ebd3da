import { describe, expect, it } from 'vitest';
import { MemoryRegionSettings, RedisRegionSettings } from '../../packages/freshcache-server/src/topology/region-settings-store.js';
import type { RegionSettingsStore } from '../../packages/freshcache-server/src/topology/region-settings-store.js';
import { redisForFile } from '../testkit/redis-server.js';

/**
 * The region settings changed at run time, as a node that starts later loads them: the last change
 * of each setting in log order, whatever order the processes that read the changes record them in.
 */
const redis = redisForFile();
let namespaces = 0;

const stores: [string, () => RegionSettingsStore][] = [
  ['in memory', () => new MemoryRegionSettings()],
  ['on Redis', () => new RedisRegionSettings(redis().client, `settings${++namespaces}:`)],
];

// Log ids of a Redis log: microseconds since the epoch, 16 digits.
const ID = 1_796_130_000_000_150;

describe.each(stores)('RegionSettingsStore %s', (_name, open) => {
  it('keeps the last change of each setting in log order, whatever order they are recorded in, ids of 16 digits apart by 10', async () => {
    const store = open();
    await store.save('eu-west', { strategy: 'lazy', maxStaleMs: 1_000 }, { epoch: 0, id: ID });
    await store.save('eu-west', { strategy: 'eager' }, { epoch: 0, id: ID + 10 });
    await store.save('eu-west', { strategy: 'lazy' }, { epoch: 0, id: ID }); // recorded late by another process
    await store.save('us-east', { ttlMs: 5_000 }, { epoch: 0, id: ID + 5 });
    expect(await store.load()).toEqual({ 'eu-west': { strategy: 'eager', maxStaleMs: 1_000 }, 'us-east': { ttlMs: 5_000 } });
  });

  it('takes a change of a later log epoch over one with a higher id (a log that moved back reuses ids)', async () => {
    const store = open();
    await store.save('eu-west', { strategy: 'lazy' }, { epoch: 0, id: ID + 100 });
    await store.save('eu-west', { strategy: 'eager' }, { epoch: ID + 101, id: ID + 50 });
    await store.save('eu-west', { strategy: 'lazy' }, { epoch: 0, id: ID + 100 });
    expect(await store.load()).toEqual({ 'eu-west': { strategy: 'eager' } });
  });
});
