import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import type { InvalidationInput } from '../../packages/freshcache/src/seams/invalidation-log.js';
import type { Topology } from '../../packages/freshcache-server/src/topology/topology.js';
import { readContent } from '../../packages/freshcache-server/src/demo/demo-app.js';
import { demoOf, testTopology } from '../testkit/test-topology.js';

/** Resolves when the relay has put the next change on the log. */
function nextPublished(topology: Topology) {
  return once(topology.events, 'invalidation.published');
}

async function readAll(topology: Topology, id: number) {
  const out: Record<string, { state: string; title: string; version: number | undefined }> = {};
  for (const region of topology.regions.values()) {
    const found = await readContent(region, id);
    out[region.name] = { state: found.state, title: found.value.title, version: found.version };
  }
  return out;
}

describe('propagation across regions', () => {
  it('MISS then HIT, then each region serves the old value until its delay and the new one after', async () => {
    const clock = new ManualClock(Date.now());
    const topology = await testTopology({ clock });
    const created = await demoOf(topology).store.create({ slug: 'a', title: 'v1' });
    await clock.advanceAsync(1000); // let the insert's own invalidation land everywhere

    for (const region of topology.regions.values()) {
      expect((await readContent(region, created.id)).state).toBe('MISS');
      expect((await readContent(region, created.id)).state).toBe('HIT');
    }

    const published = nextPublished(topology);
    const updated = (await demoOf(topology).store.update(created.id, { title: 'v2' }))!;
    await published;

    const schedule = [
      ['us-east', 100],
      ['eu-west', 300],
      ['ap-south', 600],
    ] as const;
    let elapsed = 0;
    for (const [name, delay] of schedule) {
      await clock.advanceAsync(delay - 1 - elapsed);
      const justBefore = await readAll(topology, created.id);
      expect(justBefore[name]).toEqual({ state: 'HIT', title: 'v1', version: created.version });
      await clock.advanceAsync(1);
      elapsed = delay;
      const justAfter = await readAll(topology, created.id);
      expect(justAfter[name]).toMatchObject({ state: 'MISS', title: 'v2', version: updated.version });
    }
    const status = topology.tracker.recent(1)[0]!;
    expect(status.complete).toBe(true);
    const applied = schedule.map(([name]) => status.regions[name]!.appliedAt!);
    expect(applied).toEqual([...applied].sort((a, b) => a - b));
  });

  it('eager deletes while lazy serves the old value STALE, then revalidates', async () => {
    const clock = new ManualClock(Date.now());
    const topology = await testTopology({
      clock,
      config: { regions: [{ name: 'eager', delayMs: 100 }, { name: 'lazy', delayMs: 100, strategy: 'lazy' }] },
    });
    const created = await demoOf(topology).store.create({ slug: 'a', title: 'v1' });
    await clock.advanceAsync(200);
    await readAll(topology, created.id);

    const published = nextPublished(topology);
    await demoOf(topology).store.update(created.id, { title: 'v2' });
    await published;
    await clock.advanceAsync(100);

    expect((await readContent(topology.region('eager'), created.id)).value.title).toBe('v2');
    const stale = await readContent(topology.region('lazy'), created.id);
    expect(stale).toMatchObject({ state: 'STALE' });
    expect(stale.value.title).toBe('v1');
    await clock.advanceAsync(0); // the one background revalidation completes
    expect(await readContent(topology.region('lazy'), created.id)).toMatchObject({ state: 'HIT', value: { title: 'v2' } });
    expect(topology.region('lazy').stats.revalidations).toBe(1);
  });

  it('1000 concurrent misses cause exactly one origin read per region', async () => {
    const topology = await testTopology();
    const created = await demoOf(topology).store.create({ slug: 'hot', title: 'hot' });
    let originReads = 0;
    const get = demoOf(topology).store.get.bind(demoOf(topology).store);
    demoOf(topology).store.get = (id) => {
      originReads++;
      return get(id);
    };
    const reads = [];
    for (const region of topology.regions.values()) {
      for (let i = 0; i < 1000; i++) reads.push(readContent(region, created.id));
    }
    const results = await Promise.all(reads);
    expect(results.every((r) => r.value.title === 'hot')).toBe(true);
    expect(originReads).toBe(topology.regions.size);
  });

  it('a slow read that began before an update does not put the old value back (stale-set race)', async () => {
    const clock = new ManualClock(Date.now());
    const topology = await testTopology({ clock, config: { regions: [{ name: 'r', delayMs: 50 }] } });
    const created = await demoOf(topology).store.create({ slug: 'a', title: 'v1' });
    await clock.advanceAsync(100);

    // The first origin read fetches v1, then stalls until released.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let fetched!: () => void;
    const readDone = new Promise<void>((resolve) => (fetched = resolve));
    const get = demoOf(topology).store.get.bind(demoOf(topology).store);
    let first = true;
    demoOf(topology).store.get = async (id) => {
      const record = await get(id);
      if (first) {
        first = false;
        fetched();
        await gate;
      }
      return record;
    };
    const region = topology.region('r');
    const slowRead = readContent(region, created.id);
    await readDone;

    const published = nextPublished(topology);
    await demoOf(topology).store.update(created.id, { title: 'v2' });
    await published;
    await clock.advanceAsync(50); // the invalidation is applied while the slow read is in flight
    release();
    expect((await slowRead).value.title).toBe('v1'); // its caller asked before the update: fine
    expect(region.stats.staleSetsRefused).toBe(1);
    expect(await readContent(region, created.id)).toMatchObject({ state: 'MISS', value: { title: 'v2' } });
  });

  it('ttl mode ignores the change until the entry expires; switching to cdc flushes', async () => {
    const clock = new ManualClock(Date.now());
    const topology = await testTopology({
      clock,
      config: { regions: [{ name: 'ttl', delayMs: 10, mode: 'ttl', ttlMs: 5000 }, { name: 'ttl2', delayMs: 10, mode: 'ttl', ttlMs: 5000 }] },
    });
    const created = await demoOf(topology).store.create({ slug: 'a', title: 'v1' });
    await clock.advanceAsync(100);
    await readAll(topology, created.id);
    const published = nextPublished(topology);
    await demoOf(topology).store.update(created.id, { title: 'v2' });
    await published;
    await clock.advanceAsync(1000);
    expect(await readAll(topology, created.id)).toMatchObject({ ttl: { state: 'HIT', title: 'v1' }, ttl2: { state: 'HIT', title: 'v1' } });
    expect(topology.tracker.recent(1)[0]!.regions.ttl!.skipped).toBe(true);

    topology.region('ttl2').update({ mode: 'cdc' });
    await clock.advanceAsync(0);
    expect((await readContent(topology.region('ttl2'), created.id)).value.title).toBe('v2');

    await clock.advanceAsync(4000); // past the 5 s TTL of the first read
    expect((await readContent(topology.region('ttl'), created.id)).value.title).toBe('v2');
  });

  it('purges by tag and prefix reach every region after its delay', async () => {
    const clock = new ManualClock(Date.now());
    const topology = await testTopology({ clock });
    const us = topology.region('us-east');
    const ap = topology.region('ap-south');
    for (const region of [us, ap]) {
      await region.cache.set('page:home', 'home', { tags: ['news'] });
      await region.cache.set('page:sport', 'sport', { tags: ['sport'] });
      await region.cache.set('user:1', 'u1');
    }
    await topology.purge({ keys: [], tags: ['news'], prefixes: ['user:'] });
    await clock.advanceAsync(100);
    expect(await us.cache.get('page:home')).toBeUndefined();
    expect(await us.cache.get('user:1')).toBeUndefined();
    expect(await us.cache.get('page:sport')).toBe('sport');
    expect(await ap.cache.get('page:home')).toBe('home'); // not yet: 600 ms away
    await clock.advanceAsync(500);
    expect(await ap.cache.get('page:home')).toBeUndefined();
    expect(await ap.cache.get('user:1')).toBeUndefined();
  });

  it('an event a newer release wrote, in a format this one does not know, flushes every region and is reported applied in each', async () => {
    const clock = new ManualClock(Date.now());
    const topology = await testTopology({ clock });
    const flushed: { name: string; reason: string }[] = [];
    topology.events.on('region.flushed', (flush) => flushed.push(flush));
    const applied: string[] = [];
    topology.events.on('invalidation.applied', (status) => applied.push(status.region));
    // Only the fields every release writes: a newer one may have renamed or dropped the others.
    const event = await topology.log.publish({ kind: 'invalidate', v: 3 } as unknown as InvalidationInput);
    await clock.advanceAsync(600);
    const regions = ['us-east', 'eu-west', 'ap-south'];
    expect(flushed).toEqual(regions.map((name) => ({ name, reason: 'unknown event' })));
    expect(applied).toEqual(regions);
    // Its status still has lists of targets, so whoever shows it (the dashboard) need not guard.
    expect(topology.tracker.get(event.id)).toMatchObject({ kind: 'invalidate', v: 3, keys: [], tags: [], prefixes: [], complete: true });
  });
});
