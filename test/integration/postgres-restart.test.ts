import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { InvalidationStatus } from '../../packages/freshcache-server/src/topology/invalidation-tracker.js';
import { Deployment, openEvents } from '../testkit/deployment.js';
import { readThrough } from '../testkit/load.js';

/**
 * PostgreSQL killed (-9) and started again under a real multi-process deployment, in both capture
 * modes. The relay is paused (SIGSTOP) across the crash, so that every one of its connections
 * (the leader's lock, the pool, LISTEN or the replication stream) is found dead only when it
 * resumes: it must reconnect, lead again and relay everything committed before, during and after
 * the crash, and no process may exit.
 */
const REGIONS = [
  // A TTL far beyond the test: a cached row can only become current through an invalidation.
  { name: 'us-east', delayMs: 50, jitter: 0, ttlMs: 3_600_000 },
  { name: 'eu-west', delayMs: 150, jitter: 0, ttlMs: 3_600_000 },
];
const ROWS = 30;
/** How long recovery may take once the relay resumes: election and reconnect backoffs are at most a few seconds. */
const RECOVERY_MS = 30_000;

describe.each(['wal', 'outbox'] as const)('PostgreSQL killed and restarted, %s capture', (capture) => {
  let deployment: Deployment;

  beforeAll(async () => {
    deployment = await Deployment.start({ regions: REGIONS, nodesPerRegion: 2, relays: 1, capture });
  }, 120_000);

  afterEach((context) => {
    if (context.task.result?.state === 'fail') {
      const processes = [...deployment.relays, ...deployment.nodes].map((p) => `${p.name} exit=${p.child.exitCode ?? p.child.signalCode ?? 'running'}`);
      console.error([...processes, deployment.stderr.join('').slice(-8_000)].join('\n'));
    }
  });

  afterAll(async () => {
    deployment?.relays[0]?.child.kill('SIGCONT'); // a stopped process would only die at the SIGKILL
    await deployment?.stop();
  });

  it('every node serves every change committed before, during and after the crash, and no process exits', { timeout: 90_000 }, async () => {
    const relay = deployment.relays[0]!;
    const streams = await Promise.all(deployment.nodes.map((node) => openEvents(`${node.url}/api/events`)));
    /** Resolves once every node applied, for each row, a change at least as new as its version now. */
    const appliedEverywhere = async (ids: number[]) => {
      const { rows } = await deployment.sql.query<{ id: string; version: string }>('SELECT id, version FROM content WHERE id = ANY($1)', [ids]);
      const current = new Map(rows.map((r) => [Number(r.id), Number(r.version)]));
      const applied = Promise.all(
        deployment.nodes.flatMap((node, i) =>
          ids.map((id) =>
            streams[i]!.next<InvalidationStatus & { region: string }>(
              'invalidation.applied',
              (s) => s.region === regionOf(node.name) && s.keys.includes(`content:${id}`) && (s.version ?? 0) >= current.get(id)!,
            ),
          ),
        ),
      );
      await Promise.race([applied, deployment.anyExit(), deadline(RECOVERY_MS, 'every node to apply every change')]);
      return current;
    };
    try {
      const { rows: created } = await deployment.sql.query<{ id: string }>(
        `INSERT INTO content (slug, title) SELECT 'pg-restart-' || n, 'v0' FROM generate_series(1, ${ROWS}) n RETURNING id`,
      );
      const ids = created.map((r) => Number(r.id));
      // Once the inserts' own invalidations are applied, every node caches every row, from its L1
      // or the region's shared L2.
      await appliedEverywhere(ids);
      for (const node of deployment.nodes) {
        const region = regionOf(node.name);
        for (const id of ids) {
          await readThrough(node, region, id);
          expect((await readThrough(node, region, id))?.state, `${node.name} caches ${id}`).toBe('HIT');
        }
      }

      const update = (title: string) =>
        Promise.all(ids.map((id) => deployment.sql.query('UPDATE content SET title = $2 WHERE id = $1', [id, title])));
      await update('burst'); // the relay is busy with these when it is paused
      relay.child.kill('SIGSTOP');
      await update('paused');
      await deployment.postgres.kill();
      await deployment.postgres.start();
      await update('restarted'); // on connections made after the restart; the relay still sleeps
      relay.child.kill('SIGCONT');
      const current = await appliedEverywhere(ids);

      const wrong: string[] = [];
      for (const node of deployment.nodes) {
        for (const id of ids) {
          const read = await readThrough(node, regionOf(node.name), id);
          if (!read || read.version !== current.get(id) || read.state === 'STALE') {
            wrong.push(`${node.name} ${id}: ${read ? `${read.state} v${read.version}` : 'no answer'}, origin v${current.get(id)}`);
          }
        }
      }
      expect(wrong, wrong.slice(0, 12).join('\n')).toEqual([]);
      const exited = [...deployment.relays, ...deployment.nodes].filter((p) => p.child.exitCode !== null || p.child.signalCode !== null);
      expect(exited.map((p) => p.name)).toEqual([]);
    } finally {
      await Promise.all(streams.map((stream) => stream.close()));
    }
  });
});

function regionOf(name: string): string {
  return REGIONS.find((r) => name.startsWith(`${r.name}-`))!.name;
}

/** Rejects after `ms`: a bound on a wait for an event, so that a lost change fails instead of hanging. */
function deadline(ms: number, what: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms).unref());
}
