import { EventEmitter } from 'node:events';
import {
  ApplyMarkReporter,
  MemoryStore,
  type Clock,
  systemClock,
  FreshcacheError,
  type InvalidationTargets,
  type MatchResult,
  type InvalidationEvent,
  type InvalidationLog,
  formatOf,
  lagOf,
  type Timer,
  type WriteOptions,
} from 'freshcache';
import { WalFeed, type SqlClient } from 'freshcache/postgres';
import type { ConfigInput, FreshcacheConfig } from '../config.js';
import { resolveConfig } from '../config.js';
import { createLogger } from '../observability/logger.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import type { InvalidationStatus } from './invalidation-tracker.js';
import { InvalidationTracker } from './invalidation-tracker.js';
import { Region } from './region.js';
import type { RegionConfig, RegionSettings } from './region.js';
import { RegionView } from './region-view.js';
import type { RegionReader } from './region-view.js';
import { Relay } from './relay.js';
import { RelayLeader } from './relay-leader.js';
import type { TopologyParts } from './build-parts.js';
import { buildParts } from './build-parts.js';
import { NodePresence } from './node-presence.js';
import type { AppContext, TopologyApp } from './topology-app.js';

// Apps on top of a topology reach these through `freshcache/topology`.
export type { AppContext, TopologyApp } from './topology-app.js';
export type { Region, RegionConfig, RegionSettings } from './region.js';
export type { RegionReader } from './region-view.js';

/** What the dashboard hears over server-sent events. */
/** An invalidation's status across the deployment: when each node of each region applied it. */
export interface FleetInvalidationStatus extends InvalidationStatus {
  nodes: { node: string; region: string; appliedAt: number | null; lagMs: number | null }[];
}

export interface TopologyEventMap {
  'invalidation.published': [InvalidationStatus];
  'invalidation.applied': [InvalidationStatus & { region: string }];
  /** An app's own event: the event stream sends `data` as an event named `name`. */
  'app.event': [{ name: string; data: unknown }];
  'region.updated': [{ name: string; settings: RegionSettings }];
  'region.flushed': [{ name: string; reason: string }];
}

export interface TopologyOptions {
  config?: ConfigInput;
  clock?: Clock;
  logger?: Logger;
  /** A SQL connection for the origin; an embedded PGlite when absent. */
  sql?: SqlClient;
  /** Apps to run on top (their schema, capture rules, sample data and loaders); none by default. */
  apps?: readonly TopologyApp[];
  random?: () => number;
}

/**
 * What one process runs: by default the whole system on embedded parts (origin on PGlite with its
 * outbox, the relay, the invalidation log, one edge node per region); configured with PostgreSQL
 * and Redis, the roles it is given (edge nodes for some regions, a relay candidate). The HTTP
 * server and the CLI are faces of it.
 */
export class Topology {
  readonly events = new EventEmitter<TopologyEventMap>();
  readonly regions = new Map<string, Region>();
  readonly tracker: InvalidationTracker;
  readonly metrics: Metrics;
  /** The origin database: where apps keep their tables and capture reads changes. */
  readonly sql: SqlClient;
  readonly log: InvalidationLog;
  /** The relay of this process, when it is a relay candidate; it runs while this process leads. */
  readonly relay: Relay | undefined;
  private readonly leader: RelayLeader | undefined;
  /** Tells the deployment how far this process's regions applied the log (at most every 100 ms each). */
  private readonly marks: ApplyMarkReporter;
  private watcher: { close(): Promise<void> } | undefined;
  /** This process in the fleet's node registry, and the registry (`GET /api/nodes`). */
  readonly presence: NodePresence;
  /** Set once a drain began (DELETE /api/nodes/:id): the node takes no more work. */
  private drainingDone: Promise<void> | undefined;
  /** Regions taken out of service by a drain: still closed with the rest. */
  private readonly drained: Region[] = [];
  /** The newest log position this process's watcher saw. */
  private lastSeenId = 0;
  /**
   * The region settings changed at run time (PATCH /api/regions), by region: those saved when this
   * process started, then each change the log carries. A region's settings are its configuration
   * with these over it, on every process.
   */
  private readonly settingsChanges = new Map<string, Partial<RegionSettings>>();
  /** Forgets, every `nodes.removeAfterMs`, the group consumers of nodes gone from the registry. */
  private consumerSweep: Timer | undefined;
  /** Read-only views of the regions this process does not serve, made on first use (see RegionView), and their start. */
  private readonly views = new Map<string, { view: RegionView; started: Promise<RegionView> }>();
  private closed = false;

  private constructor(
    readonly config: Readonly<FreshcacheConfig>,
    readonly clock: Clock,
    readonly logger: Logger,
    private readonly parts: TopologyParts,
    readonly apps: readonly TopologyApp[],
  ) {
    this.sql = parts.sql;
    this.log = parts.log;
    const capture = parts.capture;
    this.relay = capture
      ? new Relay({
          feed: capture.feed,
          log: parts.log,
          map: capture.rules.map,
          clock,
          onUnmappable: (error, change) =>
            logger.error({ err: error, table: change.table, op: change.op, position: change.position }, 'capture rules could not map a change; every region flushes'),
        })
      : undefined;
    const relay = this.relay;
    if (relay && parts.election) {
      this.leader = new RelayLeader({
        connectionString: parts.election.connectionString,
        electionMs: config.relay.electionMs,
        clock,
        onElected: async () => {
          logger.info({ node: config.nodeId }, 'this process leads: relaying the origin\'s changes');
          await relay.start();
        },
        onDeposed: async (why) => {
          if (why === 'lost') logger.warn({ node: config.nodeId }, 'this process lost the relay lock; standing by');
          await relay.stop();
        },
        onError: (error) => logger.warn({ err: error }, 'relay election or relay start failed; retrying'),
      });
    }
    this.marks = new ApplyMarkReporter({
      marks: parts.applyMarks,
      node: config.nodeId,
      clock,
      onError: (error) => logger.debug({ err: error }, 'could not report how far this node applied the log'),
    });
    this.events.setMaxListeners(1000);
    const served = () => [...this.regions.values()];
    this.presence = new NodePresence(config, clock, logger, {
      roles: () => [...(this.regions.size > 0 ? ['edge'] : []), ...(this.relay ? ['relay'] : []), 'control'],
      regions: () => served().map((region) => region.name),
      draining: () => this.draining,
      l1: () => served().reduce((sum, region) => ({ entries: sum.entries + region.cache.l1.entries, bytes: sum.bytes + region.cache.l1.bytes }), { entries: 0, bytes: 0 }),
      hitRatio: () => {
        const [hits, reads] = served().reduce(([h, r], { stats: s }) => [h + s.l1Hits + s.l2Hits + s.staleServed, r + s.l1Hits + s.l2Hits + s.staleServed + s.misses], [0, 0]);
        return reads === 0 ? null : hits / reads;
      },
      lagP99Ms: async () => {
        const lags = Object.values((await this.metrics.snapshot()).regions).flatMap((r) => (r.invalidationLagMs.p99 === null ? [] : [r.invalidationLagMs.p99]));
        return lags.length === 0 ? null : Math.max(...lags);
      },
      breakers: () => parts.breakers,
      perRegion: async () => {
        const snapshot = (await this.metrics.snapshot()).regions;
        return Object.fromEntries(
          served().map(({ name, cache, stats: s, cursor }) => {
            const hits = s.l1Hits + s.l2Hits + s.staleServed;
            const figures = {
              l1: { entries: cache.l1.entries, bytes: cache.l1.bytes },
              hitRatio: hits + s.misses === 0 ? null : hits / (hits + s.misses),
              lagP99Ms: snapshot[name]?.invalidationLagMs.p99 ?? null,
              cursor,
            };
            return [name, figures];
          }),
        );
      },
      // The position every region of the node has reached.
      cursor: () => Math.min(...served().map((region) => region.cursor), this.lastSeenId),
    });
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
      clock,
    );
  }

  static async create(options: TopologyOptions = {}): Promise<Topology> {
    const config = resolveConfig(options.config);
    const clock = options.clock ?? systemClock;
    const logger = options.logger ?? createLogger();
    const apps = options.apps ?? [];
    const parts = await buildParts({ config, clock, logger, sql: options.sql, apps });
    const topology: Topology = new Topology(config, clock, logger, parts, apps);
    try {
      await topology.start(options.random);
    } catch (error) {
      await topology.close();
      throw error;
    }
    return topology;
  }

  private async start(random: (() => number) | undefined): Promise<void> {
    const { config, clock, logger, parts } = this;
    const feed = parts.capture?.feed;
    this.metrics.history.start();
    this.metrics.watchParts({
      relay: this.relay ? () => this.relayState : undefined,
      slotLagBytes: feed instanceof WalFeed ? () => feed.lagBytes() : undefined,
      breakers: () => parts.breakers.map((breaker) => ({ name: breaker.name, state: breaker.state })),
      logUnreplicated: parts.logUnreplicated,
    });
    // One watcher of the log sees every event from now on, whoever published it (a relay, a purge on any node).
    this.lastSeenId = await parts.log.lastId();
    this.watcher = parts.log.subscribe({ afterId: this.lastSeenId, onEvent: (event) => this.onPublished(event) });
    // After the watcher: a change published meanwhile is then both saved and seen, never neither.
    for (const [name, changes] of Object.entries(await parts.regionSettings.load())) this.settingsChanges.set(name, { ...changes, ...this.settingsChanges.get(name) });
    for (const regionConfig of config.regions.filter((r) => config.roles.regions.includes(r.name))) {
      const region = new Region(this.settingsOf(regionConfig), {
        clock,
        log: parts.log,
        l2: parts.sharedL2(regionConfig.name),
        nodeId: config.nodeId,
        limits: config.limits,
        random,
        onApplied: (applied) => this.onApplied(applied),
        onSettingsChanged: (r) => this.events.emit('region.updated', { name: r.name, settings: { ...r.config } }),
        onError: (error, context) => logger.warn({ err: error }, context),
        onFlushed: (name, reason, detail) => {
          this.metrics.countFlush(name, reason);
          logger.warn({ region: name, reason, detail }, 'region flushed its cache');
          this.events.emit('region.flushed', { name, reason });
        },
      });
      for (const app of this.apps) app.onRegion?.(region, this.appContext);
      this.regions.set(region.name, region);
      await region.start();
    }
    if (config.seed) for (const app of this.apps) await app.seed?.(this.appContext);
    if (this.leader) await this.leader.start();
    else await this.relay?.start();
    await this.presence.start();
    if (parts.log.forgetConsumers) {
      void this.forgetGoneConsumers();
      this.consumerSweep = clock.setInterval(() => void this.forgetGoneConsumers(), config.nodes.removeAfterMs);
    }
  }

  /**
   * Drains this node (DELETE /api/nodes/:id): it takes no more work (its regions answer
   * node_draining, its relay candidacy ends), finishes the group events it holds, leaves each
   * region's consumer group, and deregisters. The process keeps answering the admin API.
   */
  drain(): Promise<void> {
    this.drainingDone ??= (async () => {
      const regions = [...this.regions.values()];
      this.regions.clear();
      this.drained.push(...regions);
      await this.presence.beat();
      if (this.leader) await this.leader.stop();
      else await this.relay?.stop();
      for (const region of regions) await region.drain();
      await this.presence.deregister();
      this.logger.info({ node: this.config.nodeId }, 'this node is drained: it left its consumer groups and the node registry');
    })();
    return this.drainingDone;
  }

  /** A drain began: this node takes no more work. */
  get draining(): boolean {
    return this.drainingDone !== undefined;
  }

  /** The relay role of this process: relaying, waiting for the lock, stopped, or none here. */
  get relayState(): 'running' | 'standby' | 'stopped' | undefined {
    if (!this.relay) return undefined;
    if (this.relay.isRunning) return 'running';
    return this.leader && !this.closed ? 'standby' : 'stopped';
  }

  /**
   * The region `name` served by this process; the first one it serves when `name` is absent. A
   * region the deployment declares but another process serves is `no_region`, not unknown.
   */
  region(name?: string): Region {
    if (this.draining) throw new FreshcacheError('node_draining', `node ${this.config.nodeId} is draining: send the request to another node of the region`);
    const region = name === undefined ? this.regions.values().next().value : this.regions.get(name);
    if (region) return region;
    const declared = this.config.regions.map((r) => r.name);
    if (name !== undefined && !declared.includes(name)) {
      throw new FreshcacheError('unknown_region', `no region named "${name}" (regions: ${declared.join(', ')})`);
    }
    const here = this.regions.size === 0 ? 'this process serves no region' : `this process serves ${[...this.regions.keys()].join(', ')}, not ${name}`;
    throw new FreshcacheError(
      'no_region',
      `${here}; the deployment's regions are ${declared.join(', ')}: send the request to a node that serves one (freshcache up prints each node's URL)`,
    );
  }

  /**
   * What the read routes read region `name` through: the region itself when this process serves
   * it, else a read-only view of its shared L2 (made on first use; see RegionView). Without a
   * name, the first region served here, or on a process that serves none the deployment's first.
   * `no_region` when the region keeps its L2 in its nodes' memory, which no other process can read.
   */
  async reader(name?: string): Promise<RegionReader> {
    const first = this.config.regions[0]?.name;
    const viewable = this.config.l2.kind === 'redis' && !this.draining;
    if (name === undefined && this.regions.size === 0 && viewable && first !== undefined) return this.view(first);
    if (name === undefined || this.regions.has(name) || this.draining) {
      const region = this.region(name);
      return { name: region.name, lookup: (key) => region.cache.lookup(key), scan: (options) => region.cache.scan(options) };
    }
    return this.view(name);
  }

  /** The view of declared region `name`, which this process does not serve. */
  private view(name: string): Promise<RegionView> {
    const config = this.config.regions.find((r) => r.name === name);
    if (!config) this.region(name); // unknown_region
    if (this.config.l2.kind !== 'redis') {
      throw new FreshcacheError(
        'no_region',
        `region ${name} keeps its L2 in each of its nodes' memory (l2.kind "${this.config.l2.kind}"), which this process cannot read: ` +
          `send the request to a node that serves ${name} (freshcache up prints each node's URL), or give the regions a shared Redis L2`,
      );
    }
    if (this.closed) throw new FreshcacheError('node_draining', `node ${this.config.nodeId} is shutting down`);
    let entry = this.views.get(name);
    if (!entry) {
      const view = new RegionView(this.settingsOf(config!), {
        clock: this.clock,
        log: this.log,
        l2: this.parts.sharedL2(name)!,
        onError: (error, context) => this.logger.warn({ err: error }, context),
      });
      const started = view.start().then(
        () => view,
        async (error: unknown) => {
          // A view that could not start (the log unreachable) is made again by the next request.
          if (this.views.get(name)?.view === view) this.views.delete(name);
          await view.close();
          throw error;
        },
      );
      entry = { view, started };
      this.views.set(name, entry);
    }
    return entry.started;
  }

  /**
   * A node killed without closing leaves its consumer name in each region's group (names carry the
   * process id, so a restart adds one). Once the registry no longer lists it, its name is deleted
   * unless it still holds events (those wait to be claimed). Every process does it: it is one
   * script per region, and the same for all.
   */
  private async forgetGoneConsumers(): Promise<void> {
    const forget = this.parts.log.forgetConsumers?.bind(this.parts.log);
    if (!forget || this.closed) return;
    try {
      const keep = (await this.presence.registry.list()).map((node) => node.id);
      for (const { name } of this.config.regions) {
        const forgotten = await forget(`region:${name}`, keep);
        if (forgotten.length > 0) this.logger.info({ region: name, consumers: forgotten }, 'forgot the group consumers of nodes gone from the registry');
      }
    } catch (error) {
      this.logger.debug({ err: error }, 'could not forget the group consumers of gone nodes; tried again later');
    }
  }

  /** A declared region's configuration with the settings changed at run time over it. */
  settingsOf(config: RegionConfig): RegionConfig {
    return { ...config, ...this.settingsChanges.get(config.name) };
  }

  /**
   * Changes region `name` for every node that serves it (PATCH /api/regions/:name): a node of the
   * region checks it first (a value its cache refuses changes nothing), then a control event on
   * the log carries it to every process, each of which saves it for the nodes that start later.
   * Every process, this one too, applies the event as its watcher reads it: in log order, so two
   * changes sent at once to two processes end the same everywhere. Resolves with the region as
   * changed. A change the log did not take is undone here, and the error goes up (503).
   */
  async changeRegion(name: string, settings: Partial<RegionSettings>): Promise<RegionConfig> {
    const config = this.config.regions.find((r) => r.name === name);
    if (!config) this.region(name); // unknown_region
    const region = this.regions.get(name);
    const before = region?.config;
    region?.update(settings);
    let event: InvalidationEvent;
    try {
      event = await this.log.publish({
        kind: 'control',
        v: 1,
        keys: [],
        tags: [],
        prefixes: [],
        source: 'purge',
        committedAt: this.clock.now(),
        control: { command: 'region-settings', region: name, settings },
      });
    } catch (error) {
      // Otherwise this node alone would serve the region so.
      if (region && before) region.update(Object.fromEntries(Object.keys(settings).map((setting) => [setting, before[setting as keyof RegionSettings]])));
      throw error;
    }
    await this.saveSettings(name, settings, event);
    return { ...this.settingsOf(config!), ...settings };
  }

  /** Saves a change for the nodes that start later; a failure is logged (every process that reads it saves it too). */
  private async saveSettings(name: string, settings: Partial<RegionSettings>, event: InvalidationEvent): Promise<void> {
    await this.parts.regionSettings.save(name, settings, { epoch: event.epoch ?? 0, id: event.id }).catch((error: unknown) => {
      this.logger.warn({ err: error, region: name }, 'could not save a region settings change for the nodes that start later');
    });
  }

  /** A change of region `name`'s settings, made here or heard on the log: each served region and view follows it. */
  private applySettings(name: string, settings: Partial<RegionSettings>): void {
    this.settingsChanges.set(name, { ...this.settingsChanges.get(name), ...settings });
    const region = this.regions.get(name);
    const current = region?.config as Record<string, unknown> | undefined;
    // Its own change comes back on the log: a change that changes nothing is not applied again.
    if (region && Object.entries(settings).some(([setting, value]) => current?.[setting] !== value)) {
      try {
        region.update(settings);
      } catch (error) {
        this.logger.warn({ err: error, region: name, settings }, 'a region settings change from the log was refused here');
      }
    }
    // A view judges with the region's settings: the next request makes it again with these.
    const view = this.views.get(name);
    if (view) {
      this.views.delete(name);
      void view.view.close();
    }
  }

  /** Publishes a purge to every region through the log. */
  async purge(targets: { keys: string[]; tags: string[]; prefixes: string[] }): Promise<InvalidationStatus> {
    // The oldest format that says it: a node of the previous release still reads a plain purge.
    const event = await this.log.publish({ kind: 'invalidate', v: formatOf({}), ...targets, source: 'purge', committedAt: this.clock.now() });
    return this.tracker.published(event);
  }

  /**
   * Stores `value` under `key` for every node of every region (PUT /api/cache/:key). The event
   * goes first: every node drops its copy of the key, in every region. The value is then written
   * to `region`'s L2 dated at that event, so the region's nodes that applied it read the new value
   * there; written first, it would predate the event and every other node would refuse it.
   * Other regions get no value: their next read misses (or loads).
   */
  async write(region: Region, key: string, value: unknown, options: WriteOptions): Promise<InvalidationStatus> {
    const event = await this.log.publish({ kind: 'invalidate', v: formatOf({}), keys: [key], tags: [], prefixes: [], source: 'write', committedAt: this.clock.now() });
    await region.cache.set(key, value, { ...options, position: event.id });
    return this.tracker.published(event);
  }

  /**
   * Deletes `key` from `region`'s cache now and from every other node through the log
   * (DELETE /api/cache/:key). Undefined, and nothing published, when the region held no entry for it.
   */
  /**
   * Purges `key` everywhere, then deletes it from `region` now. Published whether or not this
   * region held it (other regions may), and first: a purge that failed (the log down) leaves the
   * key here, so a retry finds it and publishes again.
   */
  async remove(region: Region, key: string): Promise<{ event: InvalidationStatus; held: boolean }> {
    const event = await this.purge({ keys: [key], tags: [], prefixes: [] });
    return { event, held: await region.cache.delete(key) };
  }

  /**
   * What a purge would hit now, per region (a count is `partial` when its region's budget ran
   * out): the regions served here, and through their views those served elsewhere when the
   * regions share a Redis L2.
   */
  async dryRun(targets: InvalidationTargets, limit = 1000): Promise<Record<string, MatchResult>> {
    const viewable = this.config.l2.kind === 'redis' && !this.draining;
    // A process that can read no region's cache has nothing to preview: no_region (or node_draining).
    if (this.regions.size === 0 && !viewable) this.region();
    const result: Record<string, MatchResult> = {};
    for (const { name } of this.config.regions) {
      const region = this.regions.get(name);
      if (region) result[name] = await region.cache.matching(targets, limit);
      else if (viewable) result[name] = await (await this.view(name)).cache.matching(targets, limit);
    }
    return result;
  }

  private get appContext(): AppContext {
    return { sql: this.sql, config: this.config, logger: this.logger };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.metrics.history.stop();
    await this.drainingDone?.catch((error: unknown) => this.logger.warn({ err: error }, 'draining failed'));
    await this.presence.close();
    if (this.leader) await this.leader.stop();
    else await this.relay?.stop();
    await this.watcher?.close();
    // Not waiting for a view still catching up (Redis may be down): closing it ends its start too.
    const views = [...this.views.values()].map((entry) => entry.view);
    this.views.clear();
    for (const view of views) await view.close();
    for (const region of [...this.regions.values(), ...this.drained]) {
      await region.stop();
      await region.cache.close();
    }
    this.marks.stop();
    this.consumerSweep?.cancel();
    // Leaving: its marks would show it behind on every later event.
    await this.parts.applyMarks.forget(this.config.nodeId).catch(() => {});
    await this.parts.close();
    this.events.removeAllListeners();
  }

  private onPublished(event: InvalidationEvent): void {
    this.lastSeenId = Math.max(this.lastSeenId, event.id);
    // A command to the fleet, not an invalidation: carried out, and kept out of the history.
    if (event.kind === 'control') {
      const { control } = event;
      if (control?.command === 'region-settings' && typeof control.region === 'string' && control.settings) {
        this.applySettings(control.region, control.settings as Partial<RegionSettings>);
        void this.saveSettings(control.region, control.settings as Partial<RegionSettings>, event);
      }
      return;
    }
    this.metrics.countPublished(event.source);
    this.events.emit('invalidation.published', this.tracker.published(event));
  }

  /**
   * Where event `id` stands across the deployment: the status this process tracked, with when
   * each node of each region applied it (their marks), and the regions this process does not
   * serve taken from their nodes: applied once every node of the region applied it.
   */
  async fleetStatus(id: number): Promise<FleetInvalidationStatus | undefined> {
    const status = this.tracker.get(id);
    return status && this.withFleet(status, await this.liveNodes());
  }

  /**
   * The latest invalidations, newest first, each as `fleetStatus` tells it (without its nodes):
   * on a process that serves no region, or not every one, its own list alone would show every
   * invalidation in progress forever.
   */
  async fleetStatuses(limit: number): Promise<InvalidationStatus[]> {
    const recent = this.tracker.recent(limit);
    const appliedHere = (status: InvalidationStatus) => this.config.regions.every(({ name }) => status.regions[name]?.appliedAt != null);
    if (recent.every(appliedHere)) return recent;
    const live = await this.liveNodes();
    return Promise.all(
      recent.map(async (status) => {
        if (appliedHere(status)) return status;
        const { nodes: _nodes, ...fleet } = await this.withFleet(status, live);
        return fleet;
      }),
    );
  }

  /**
   * The nodes the registry shows up: one that died (kill -9) never withdrew its marks, and a new
   * process has a new id, so its marks would hold every later event incomplete.
   */
  private async liveNodes(): Promise<Set<string>> {
    return new Set((await this.presence.registry.list().catch(() => [])).filter((n) => n.state === 'up').map((n) => n.id));
  }

  private async withFleet(status: InvalidationStatus, live: Set<string>): Promise<FleetInvalidationStatus> {
    const marks = (await this.parts.applyMarks.appliedAt(status.id).catch(() => [])).filter((mark) => live.has(mark.node));
    const nodes = marks.map(({ node, region, at }) => ({
      node,
      region,
      appliedAt: at,
      lagMs: at === null ? null : at - status.committedAt,
    }));
    const regions = { ...status.regions };
    // Every region the deployment declares, served here or not: complete only once all applied it.
    for (const { name } of this.config.regions) regions[name] ??= { appliedAt: null, lagMs: null, skipped: false };
    for (const name of new Set(nodes.map((n) => n.region))) {
      if (regions[name]?.appliedAt != null) continue;
      const times = nodes.filter((n) => n.region === name).map((n) => n.appliedAt);
      const appliedAt = times.every((at) => at !== null) ? Math.max(...(times as number[])) : null;
      regions[name] = { appliedAt, lagMs: appliedAt === null ? null : appliedAt - status.committedAt, skipped: regions[name]?.skipped ?? false };
    }
    return { ...status, regions, complete: Object.values(regions).every((r) => r.appliedAt !== null), nodes };
  }

  private onApplied(applied: Parameters<InvalidationTracker['applied']>[0]): void {
    this.marks.applied(applied.region, applied.event.id, applied.appliedAt);
    if (applied.event.kind === 'control') return;
    const status = this.tracker.applied(applied);
    const lagMs = lagOf(applied.event, applied.appliedAt);
    if (!applied.skipped && lagMs !== undefined) this.metrics.observeInvalidationLag(applied.region, lagMs / 1000);
    this.events.emit('invalidation.applied', { ...status, region: applied.region });
  }
}

export function createTopology(options: TopologyOptions = {}): Promise<Topology> {
  return Topology.create(options);
}
