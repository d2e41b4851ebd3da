import type { Cluster, Redis } from 'ioredis';
import { MemoryNodeRegistry, NodeHeartbeat, VERSION, type Clock, type NodeRecord, type NodeRegistry, type NodeStatus, type RegionFigures } from 'freshcache';
import { createRedisConnection, RedisNodeRegistry } from 'freshcache/redis';
import type { FreshcacheConfig } from '../config.js';
import type { Logger } from '../observability/logger.js';

/** What a process tells the registry of itself, read at each heartbeat. */
export interface PresenceSource {
  roles(): string[];
  regions(): string[];
  draining(): boolean;
  l1(): { entries: number; bytes: number };
  hitRatio(): number | null;
  lagP99Ms(): Promise<number | null>;
  breakers(): { state: 'closed' | 'open' | 'half-open' }[];
  cursor(): number;
  perRegion(): Promise<Record<string, RegionFigures>>;
}

/**
 * This process in the fleet's node registry: the registry itself (on the log's Redis, under the
 * log's namespace; in memory when the log is), and the heartbeat that keeps the process listed.
 */
export class NodePresence {
  readonly registry: NodeRegistry;
  private readonly heartbeat: NodeHeartbeat;
  private readonly connection: Redis | Cluster | undefined;
  private url: string | null = null;

  constructor(config: Readonly<FreshcacheConfig>, clock: Clock, logger: Logger, source: PresenceSource) {
    const { downAfterMs, removeAfterMs, heartbeatMs } = config.nodes;
    if (config.log.kind === 'redis') {
      this.connection = createRedisConnection({ ...config.log.redis, onError: (error) => logger.debug({ err: error }, 'node registry connection error') });
      this.registry = new RedisNodeRegistry({ redis: this.connection, namespace: config.log.namespace, clock, downAfterMs, removeAfterMs });
    } else {
      this.registry = new MemoryNodeRegistry({ clock, downAfterMs, removeAfterMs });
    }
    const startedAt = clock.now();
    const describe = async (): Promise<NodeRecord> => {
      const breakers = source.breakers().map((b) => b.state);
      const breaker = breakers.length === 0 ? null : breakers.includes('open') ? 'open' : breakers.includes('half-open') ? 'half-open' : 'closed';
      const status: NodeStatus = {
        health: source.draining() ? 'draining' : breaker === 'open' ? 'degraded' : 'ok',
        l1: source.l1(),
        hitRatio: source.hitRatio(),
        lagP99Ms: await source.lagP99Ms(),
        breaker,
        cursor: source.cursor(),
        regions: await source.perRegion(),
      };
      return { id: config.nodeId, roles: source.roles(), regions: source.regions(), url: this.url, drainable: true, version: VERSION, startedAt, status };
    };
    this.heartbeat = new NodeHeartbeat({
      registry: this.registry,
      id: config.nodeId,
      clock,
      intervalMs: heartbeatMs,
      describe,
      onError: (error) => logger.debug({ err: error }, 'node registry heartbeat failed; the next one retries'),
    });
  }

  start(): Promise<void> {
    return this.heartbeat.start();
  }

  /** The process listens at `url` now: the next heartbeat (sent at once) says so. */
  listening(url: string): Promise<void> {
    this.url = url;
    return this.heartbeat.beat();
  }

  /** Sends a heartbeat now (the node started draining). */
  beat(): Promise<void> {
    return this.heartbeat.beat();
  }

  /** Leaves the registry (stopped or drained). */
  deregister(): Promise<void> {
    return this.heartbeat.stop();
  }

  async close(): Promise<void> {
    await this.heartbeat.stop();
    await this.registry.close();
    this.connection?.disconnect();
  }
}
