import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvalidationStatus } from '../../src/topology/invalidation-tracker.js';
import { Deployment, openEvents } from '../testkit/deployment.js';

/**
 * Three regions × two node processes and a relay, on a real redis-server and PostgreSQL: the
 * distributed deployment, started as `freshcache up` starts it. Jitter is off so that each
 * region's bound is exact.
 */
const REGIONS = [
  { name: 'us-east', delayMs: 100, jitter: 0 },
  { name: 'eu-west', delayMs: 300, jitter: 0 },
  { name: 'ap-south', delayMs: 600, jitter: 0 },
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

  it('an UPDATE run straight in SQL makes every node of every region serve the new value within its delay + 50 ms', async () => {
    const { rows } = await deployment.sql.query<{ id: string }>(`INSERT INTO content (slug, title) VALUES ('mp', 'before') RETURNING id`);
    const id = Number(rows[0]!.id);
    // Every node caches the old value, from its L1 or the region's shared L2.
    for (const region of REGIONS) {
      for (const node of deployment.nodesOf(region.name)) {
        await read(node.url, region.name, id);
        expect(await read(node.url, region.name, id)).toMatchObject({ state: 'HIT', body: { title: 'before' } });
      }
    }
    const streams = await Promise.all(deployment.nodes.map((node) => openEvents(`${node.url}/api/events`)));
    try {
      const { rows: updated } = await deployment.sql.query<{ version: string }>(`UPDATE content SET title = 'after' WHERE id = $1 RETURNING version`, [id]);
      const version = Number(updated[0]!.version);
      await Promise.all(
        deployment.nodes.map(async (node, i) => {
          const region = REGIONS.find((r) => node.name.startsWith(`${r.name}-`))!;
          const applied = await streams[i]!.next<InvalidationStatus & { region: string }>(
            'invalidation.applied',
            (status) => status.region === region.name && status.keys.includes(`content:${id}`) && (status.version ?? 0) >= version,
          );
          const lag = applied.regions[region.name]!.lagMs!;
          expect(lag, `${node.name}: commit → applied`).toBeGreaterThanOrEqual(region.delayMs);
          expect(lag, `${node.name}: commit → applied`).toBeLessThanOrEqual(region.delayMs + 50);
          expect(await read(node.url, region.name, id)).toMatchObject({ version, body: { title: 'after' } });
        }),
      );
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
