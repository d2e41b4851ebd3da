import { EventEmitter } from 'node:events';
import { MemoryLog } from '../adapters/memory/memory-log.js';
import { MemoryStore } from '../adapters/memory/memory-store.js';
import { createPgliteClient } from '../adapters/postgres/pglite-client.js';
import { OutboxFeed } from '../adapters/postgres/outbox-feed.js';
import type { SqlClient } from '../adapters/postgres/sql-client.js';
import { SqlOriginStore } from '../adapters/postgres/sql-origin-store.js';
import type { ConfigInput, FreshcacheConfig } from '../config.js';
import { resolveConfig } from '../config.js';
import type { Clock } from '../engine/clock.js';
import { systemClock } from '../engine/clock.js';
import { FreshcacheError } from '../engine/errors.js';
import type { InvalidationTargets } from '../engine/generations.js';
import { createLogger } from '../observability/logger.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import type { InvalidationEvent } from '../seams/invalidation-log.js';
import type { ContentInput, ContentPatch, ContentRecord, OriginStore } from '../seams/origin-store.js';
import type { InvalidationStatus } from './invalidation-tracker.js';
import { InvalidationTracker } from './invalidation-tracker.js';
import { Region } from './region.js';
import type { RegionSettings } from './region.js';
import { Relay } from './relay.js';
import { SAMPLE_CONTENT } from './sample-content.js';

/** What the dashboard hears over server-sent events. */
export interface TopologyEventMap {
  'invalidation.published': [InvalidationStatus];
  'invalidation.applied': [InvalidationStatus & { region: string }];
  'content.changed': [{ op: 'create' | 'update' | 'delete'; id: number; record?: ContentRecord }];
  'region.updated': [{ name: string; settings: RegionSettings }];
  'region.flushed': [{ name: string; reason: string }];
}

export interface TopologyOptions {
  config?: ConfigInput;
  clock?: Clock;
  logger?: Logger;
  /** A SQL connection for the origin; an embedded PGlite when absent. */
  sql?: SqlClient;
  random?: () => number;
}

/**
 * The whole system in one process on embedded parts: origin (PGlite) with its outbox, the relay,
 * the invalidation log and one edge node per region. The HTTP server and the CLI are faces of it.
 */
export class Topology {
  readonly events = new EventEmitter<TopologyEventMap>();
  readonly regions = new Map<string, Region>();
  readonly tracker: InvalidationTracker;
  readonly metrics: Metrics;
  private closed = false;

  private constructor(
    readonly config: Readonly<FreshcacheConfig>,
    readonly clock: Clock,
    readonly logger: Logger,
    readonly origin: OriginStore,
    readonly log: MemoryLog,
    readonly relay: Relay,
    private readonly sql: SqlClient,
  ) {
    this.events.setMaxListeners(1000);
    this.tracker = new InvalidationTracker(() => [...this.regions.keys()]);
    this.metrics = new Metrics(() =>
      [...this.regions.values()].map((region) => ({
        name: region.name,
        stats: region.stats,
        // Counts are read from in-process tiers only: a scrape must not walk a remote store.
        tiers: () => {
          const { l1, l2 } = region.cache;
          const tiers: { tier: 'l1' | 'l2'; entries: number; bytes: number }[] = [{ tier: 'l1', entries: l1.entries, bytes: l1.bytes }];
          if (l2 instanceof MemoryStore) tiers.push({ tier: 'l2', entries: l2.entries, bytes: l2.bytes });
          return tiers;
        },
      })),
    );
  }

  static async create(options: TopologyOptions = {}): Promise<Topology> {
    const config = resolveConfig(options.config);
    const clock = options.clock ?? systemClock;
    const logger = options.logger ?? createLogger();
    const sql = options.sql ?? (await createPgliteClient({ dataDir: config.origin.dataDir }));
    const origin = new SqlOriginStore(sql);
    const log = new MemoryLog({
      clock,
      retain: config.log.retain,
      onSubscriberError: (error, event) => logger.error({ err: error, event: event.id }, 'an invalidation subscriber failed; the others still got the event'),
    });
    const feed = new OutboxFeed({
      sql,
      clock,
      pollMs: config.relay.pollMs,
      onError: (error) => logger.error({ err: error }, 'relay could not read the outbox; it retries on the next wake-up'),
    });
    const relay = new Relay({ feed, log });
    const topology: Topology = new Topology(config, clock, logger, origin, log, relay, sql);
    // One watcher of the log sees every event, whoever published it (relay or purge).
    log.subscribe({ afterId: 0, onEvent: (event) => topology.onPublished(event) });
    for (const regionConfig of config.regions) {
      const region = new Region(regionConfig, {
        clock,
        log,
        origin,
        limits: config.limits,
        random: options.random,
        onApplied: (applied) => topology.onApplied(applied),
        onSettingsChanged: (r) => topology.events.emit('region.updated', { name: r.name, settings: { ...r.config } }),
        onError: (error, context) => logger.warn({ err: error }, context),
        onFlushed: (name, reason) => {
          topology.metrics.countFlush(name, reason);
          logger.warn({ region: name, reason }, 'region flushed its cache');
          topology.events.emit('region.flushed', { name, reason });
        },
      });
      topology.regions.set(region.name, region);
      await region.start();
    }
    if (config.seed) await topology.seed();
    await relay.start();
    return topology;
  }

  region(name: string): Region {
    const region = this.regions.get(name);
    if (!region) throw new FreshcacheError('unknown_region', `no region named "${name}" (regions: ${[...this.regions.keys()].join(', ')})`);
    return region;
  }

  /** Publishes a purge to every region through the log. */
  async purge(targets: { keys: string[]; tags: string[]; prefixes: string[] }): Promise<InvalidationStatus> {
    const event = await this.log.publish({ ...targets, source: 'purge', committedAt: this.clock.now() });
    return this.tracker.published(event);
  }

  /** What a purge would hit now, per region. */
  async dryRun(targets: InvalidationTargets, limit = 1000): Promise<Record<string, { keys: string[]; total: number }>> {
    const result: Record<string, { keys: string[]; total: number }> = {};
    for (const region of this.regions.values()) result[region.name] = await region.cache.matching(targets, limit);
    return result;
  }

  async createContent(input: ContentInput): Promise<ContentRecord> {
    const record = await this.origin.create(input);
    this.events.emit('content.changed', { op: 'create', id: record.id, record });
    return record;
  }

  async updateContent(id: number, patch: ContentPatch): Promise<ContentRecord | undefined> {
    const record = await this.origin.update(id, patch);
    if (record) this.events.emit('content.changed', { op: 'update', id, record });
    return record;
  }

  async deleteContent(id: number): Promise<boolean> {
    const deleted = await this.origin.delete(id);
    if (deleted) this.events.emit('content.changed', { op: 'delete', id });
    return deleted;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.relay.stop();
    for (const region of this.regions.values()) {
      await region.stop();
      await region.cache.close();
    }
    await this.log.close();
    await this.sql.close();
    this.events.removeAllListeners();
  }

  private onPublished(event: InvalidationEvent): void {
    this.metrics.countPublished(event.source);
    this.events.emit('invalidation.published', this.tracker.published(event));
  }

  private onApplied(applied: Parameters<InvalidationTracker['applied']>[0]): void {
    const status = this.tracker.applied(applied);
    if (!applied.skipped) this.metrics.observeInvalidationLag(applied.region, Math.max(0, applied.appliedAt - applied.event.committedAt) / 1000);
    this.events.emit('invalidation.applied', { ...status, region: applied.region });
  }

  private async seed(): Promise<void> {
    const { items } = await this.origin.list({ limit: 1 });
    if (items.length > 0) return;
    for (const input of SAMPLE_CONTENT) await this.origin.create(input);
    this.logger.info({ records: SAMPLE_CONTENT.length }, 'seeded the origin with sample content');
  }
}

export function createTopology(options: TopologyOptions = {}): Promise<Topology> {
  return Topology.create(options);
}
