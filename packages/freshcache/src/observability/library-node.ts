import { hostname } from 'node:os';
import type { Clock } from '../engine/clock.js';
import type { TieredCache } from '../engine/tiered-cache.js';
import type { NodeRecord, NodeRegistry } from '../seams/node-registry.js';
import { VERSION } from '../version.js';
import { NodeHeartbeat } from './node-heartbeat.js';

/** Lags kept for the p99 a library node reports: the most recent ones, a bounded window. */
const LAG_WINDOW = 512;

export interface LibraryNodeOptions {
  registry: NodeRegistry;
  cache: TieredCache;
  region: string;
  nodeId?: string;
  clock: Clock;
  intervalMs?: number;
  /** The newest log position the cache received. */
  cursor: () => number;
  onError?: (error: unknown) => void;
}

/**
 * A library cache that follows a deployment's log, listed in its node registry: `url: null` (it
 * has no HTTP API of its own) and `drainable: false` (its service, not freshcache, decides when it stops).
 */
export class LibraryNode {
  private readonly heartbeat: NodeHeartbeat;
  private readonly lags: number[] = [];
  private nextLag = 0;

  constructor(options: LibraryNodeOptions) {
    const { cache, region, clock } = options;
    const startedAt = clock.now();
    // The same default name as the cache's consumer in its region's group (LogFollower).
    const id = options.nodeId ?? `${hostname()}:${process.pid}`;
    const describe = (): NodeRecord => {
      const { l1Hits, l2Hits, misses, staleServed } = cache.stats;
      const hits = l1Hits + l2Hits + staleServed;
      const figures = {
        l1: { entries: cache.l1.entries, bytes: cache.l1.bytes },
        hitRatio: hits + misses === 0 ? null : hits / (hits + misses),
        lagP99Ms: this.lagP99(),
        cursor: options.cursor(),
      };
      return {
        id,
        roles: ['library'],
        regions: [region],
        url: null,
        drainable: false,
        version: VERSION,
        startedAt,
        status: { health: 'ok', ...figures, breaker: null, regions: { [region]: figures } },
      };
    };
    this.heartbeat = new NodeHeartbeat({ registry: options.registry, id, clock, intervalMs: options.intervalMs, describe, onError: options.onError });
  }

  /** An event reached the cache this long (ms) after its commit. */
  observeLag(ms: number): void {
    this.lags[this.nextLag++ % LAG_WINDOW] = ms;
  }

  start(): Promise<void> {
    return this.heartbeat.start();
  }

  stop(): Promise<void> {
    return this.heartbeat.stop();
  }

  private lagP99(): number | null {
    if (this.lags.length === 0) return null;
    const sorted = [...this.lags].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
  }
}
