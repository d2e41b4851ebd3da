import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvalidationStatus } from '../../packages/freshcache-server/src/topology/invalidation-tracker.js';
import { Deployment, openEvents } from '../testkit/deployment.js';

/**
 * Three regions × two node processes and a relay, on a real redis-server and PostgreSQL: the
 * distributed deployment, started as `freshcache up` starts it.
 *
 * The delays are 500 ms apart, as wide as the margin the fault test allows beyond a region's
 * delay under load (`MARGIN_MS` in faults.test.ts): so the order in which the regions apply can
 * only break if a region is later than that promise, never because a shared machine was slow for
 * a moment. How late each region applies is measured, not asserted, in
 * bench/propagation/commit-to-applied.bench.ts. Jitter is off so that the gaps are exact.
 */
const REGIONS = [
  { name: 'us-east', delayMs: 100, jitter: 0 },
  { name: 'eu-west', delayMs: 600, jitter: 0 },
  { name: 'ap-south', delayMs: 1100, jitter: 0 },
];

export async function read(url: string, region: string, id: number) {
  const response = await fetch(`${url}/edge/${region}/content/${id}`);
  expect(response.status).toBe(200);
  return { state: response.headers.get('x-cache'), version: Number(response.headers.get('x-cache-version')), body: (await response.json()) as { title: string } };
}

describe.each(['wal', 'outbox'] as const)('multi-process deployment on Redis and PostgreSQL, %s capture', (capture) => {
  let deployment: Deployment;

  beforeAll(async () => {
    deployment = await Deployment.start({ regions: REGIONS, nodesPerRegion: 2, relays: 1, capture });
  }, 120_000);

  afterAll(async () => {
    await deployment?.stop();
  });

  it('an UPDATE run straight in SQL reaches every node of every region, never before its delay, in delay order', async () => {
    const streams = await Promise.all(deployment.nodes.map((node) => openEvents(`${node.url}/api/events`)));
    /** Resolves with node i's status of the invalidation of `content:id` at `version` or newer, once its region applied it. */
    const appliedOn = (i: number, region: string, id: number, version: number) =>
      streams[i]!.next<InvalidationStatus & { region: string }>(
        'invalidation.applied',
        (s) => s.region === region && s.keys.includes(`content:${id}`) && (s.version ?? 0) >= version,
      );
    const regionOf = (name: string) => REGIONS.find((r) => name.startsWith(`${r.name}-`))!;
    try {
      const { rows } = await deployment.sql.query<{ id: string; version: string }>(`INSERT INTO content (slug, title) VALUES ('mp', 'before') RETURNING id, version`);
      const id = Number(rows[0]!.id);
      // The insert's own invalidation lands everywhere first: an eager region drops the key from
      // L1 when it applies one, so it would otherwise empty a node between the two reads below.
      await Promise.all(deployment.nodes.map((node, i) => appliedOn(i, regionOf(node.name).name, id, Number(rows[0]!.version))));
      // Every node caches the old value, from its L1 or the region's shared L2.
      for (const region of REGIONS) {
        for (const node of deployment.nodesOf(region.name)) {
          await read(node.url, region.name, id);
          expect(await read(node.url, region.name, id)).toMatchObject({ state: 'HIT', body: { title: 'before' } });
        }
      }
      const { rows: updated } = await deployment.sql.query<{ version: string }>(`UPDATE content SET title = 'after' WHERE id = $1 RETURNING version`, [id]);
      const version = Number(updated[0]!.version);
      const applied = await Promise.all(
        deployment.nodes.map(async (node, i) => {
          const region = regionOf(node.name);
          const status = await appliedOn(i, region.name, id, version);
          const { appliedAt, lagMs } = status.regions[region.name]!;
          // Never before the region's delay: the node holds each event for it, whatever the machine does.
          expect(lagMs!, `${node.name}: commit → applied`).toBeGreaterThanOrEqual(region.delayMs * (1 - region.jitter));
          expect(await read(node.url, region.name, id)).toMatchObject({ version, body: { title: 'after' } });
          return { region: region.name, appliedAt: appliedAt! };
        }),
      );
      // In delay order: every node of a region applies before any node of a region with a longer delay.
      const order = applied.sort((a, b) => a.appliedAt - b.appliedAt).map((a) => a.region);
      expect(order).toEqual(REGIONS.flatMap((r) => deployment.nodesOf(r.name).map(() => r.name)));
    } finally {
      await Promise.all(streams.map((stream) => stream.close()));
    }
  });

  it('metrics show which process relays, the WAL slot lag, and each shared-tier circuit breaker', async () => {
    const relay = await (await fetch(`${deployment.relays[0]!.url}/metrics`)).text();
    expect(relay).toMatch(/^freshcache_relay_running 1$/m);
    if (capture === 'wal') expect(relay).toMatch(/^freshcache_wal_slot_lag_bytes \d+$/m);
    else expect(relay).not.toMatch(/freshcache_wal_slot_lag_bytes \d/);
    const node = await (await fetch(`${deployment.nodes[0]!.url}/metrics`)).text();
    expect(node).not.toMatch(/^freshcache_relay_running /m); // not a relay candidate
    expect(node).toMatch(/^freshcache_circuit_breaker_state\{breaker="l2:[a-z-]+",state="closed"\} 1$/m);
  });
});
