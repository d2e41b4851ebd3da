import type { NodeRegistry } from './node-registry.js';

/**
 * Where an invalidation came from: the origin's change capture, an explicit purge, or a `write`
 * of a new value (its writer publishes the event, then writes the value to its region's shared
 * L2 dated at the event, so the region's consumer group leaves that L2 alone).
 */
export type InvalidationSource = 'cdc' | 'purge' | 'write';

/**
 * What an event asks of a node. `invalidate`: drop its targets. `control`: a command to the whole
 * fleet (`control`), which the engine skips and the processes that know the command carry out.
 */
export type InvalidationKind = 'invalidate' | 'control';

/**
 * The command of a `control` event. `region-settings`: every node of `region` applies `settings`
 * (a region changed at run time). A node that does not know a command skips it.
 */
export interface ControlCommand {
  command: string;
  region?: string;
  settings?: Record<string, unknown>;
}

/**
 * The newest event format this code reads. Raise it when an event changes meaning: a node of the
 * old code then flushes on the new events instead of misreading them, so two versions of nodes can
 * share one log during a rolling upgrade. An event is written in the oldest format that can say
 * it (`formatOf`), so an upgrade costs old nodes a flush only for what they could not read.
 * - v1: keys, tags, prefixes.
 * - v2: adds `all` (drop everything) with its `reason`.
 */
export const EVENT_FORMAT_VERSION = 2;

/** The oldest format that carries `input`'s meaning. */
export function formatOf(input: { all?: boolean }): number {
  return input.all ? 2 : 1;
}

export interface InvalidationInput {
  kind: InvalidationKind;
  /** The event's format version (`formatOf` the event when published here); not the origin's `version`. */
  v: number;
  keys: string[];
  tags: string[];
  prefixes: string[];
  /** Drop everything (format v2): changes were lost, or could not be mapped to targets. */
  all?: boolean;
  /** Why everything is dropped (`all`): nodes report it as their flush reason, `capture lost` for instance. */
  reason?: string;
  source: InvalidationSource;
  /** The origin version that caused it (CDC), so readers can tell which change it carries. */
  version?: number;
  /**
   * The version rule: for each key target of an insert or update of a versioned table, the
   * version the change wrote (a key also named by a delete or an unversioned change of the same
   * transaction is left out). A node keeps an entry of that key holding this version or newer.
   * Still format v1: a node that ignores it drops the key, which drops more, never less.
   */
  keyVersions?: Record<string, number>;
  /** When the change committed at the origin (ms epoch); for purges, when it was requested. */
  committedAt: number;
  /** The command of a `control` event. */
  control?: ControlCommand;
}

/**
 * An event as read from the log. A newer node may have written a kind or a format version this
 * node does not know, whose other fields may differ: check `unknownEvent` before reading them.
 */
export interface InvalidationEvent extends Omit<InvalidationInput, 'kind'> {
  kind: string;
  /**
   * Position in the log: consecutive integers, so a reader can tell when it missed one. They only
   * grow, even across a log that was lost and started again (the Redis log then starts far above).
   */
  id: number;
  publishedAt: number;
  /**
   * The log's epoch when the event was appended (absent: 0). A log that moved backwards (a
   * failover lost its tail, or it was restored from an older copy) reuses ids for new events; it
   * starts a new epoch then, so a reader can tell them from the events it held under those ids.
   * Not part of the event's format (`v`): a node that ignores it reads the event right.
   */
  epoch?: number;
}

/**
 * Why this node cannot read `event` (a kind or a format version it does not know), or undefined
 * when it can. A reader must never skip such an event: it may invalidate anything, so the reader
 * flushes what it caches and says why.
 */
export function unknownEvent(event: Pick<InvalidationEvent, 'kind' | 'v'>): string | undefined {
  if (event.kind !== 'invalidate' && event.kind !== 'control') return `unknown event kind "${event.kind}" (format v${event.v})`;
  if (!(Number.isInteger(event.v) && event.v >= 1 && event.v <= EVENT_FORMAT_VERSION)) return `unknown event format v${event.v} of kind "${event.kind}" (this node reads up to v${EVENT_FORMAT_VERSION})`;
  return undefined;
}

export interface Subscription {
  /** Stops delivery; resolves once no more events will be delivered. */
  close(): Promise<void>;
}

/** A consumer's place in a group (`consume`). */
export interface GroupSubscription extends Subscription {
  /**
   * Leaves the group for good (a drained node): takes no new events, finishes and acknowledges
   * the ones it was handed (retrying failures), and once none is left removes the consumer from
   * the group, then closes. A plain `close` instead leaves its events to be handed out again.
   * Optional: a log without it lets another consumer claim what the departed one held.
   */
  leave?(): Promise<void>;
}

/**
 * Why a reader cannot prove it saw every event: the log trimmed events it had not read, the log
 * was lost and started again (a Redis without persistence restarted), the log moved backwards and
 * started a new epoch (its new events reuse ids the reader may hold for others), the reader
 * was cut off from the log for longer than its bound, or it reads again after such a cut-off
 * (`reconnected`: what committed meanwhile may reach the log only after it, once the publisher
 * retries, so what the reader loaded while cut off cannot be vouched for).
 */
export type GapReason = 'trimmed' | 'reset' | 'epoch' | 'disconnected' | 'reconnected';

export interface GapInfo {
  reason: GapReason;
  afterId: number;
  /** The oldest event the log still holds (0 when unknown, e.g. while cut off). */
  oldestRetainedId: number;
}

export interface InvalidationLog {
  /** Appends an event and resolves with it once it is durable in the log. */
  publish(input: InvalidationInput): Promise<InvalidationEvent>;
  /**
   * Appends several events in one call, all or none, in the given order: each gets the next
   * consecutive id (readers detect gaps by ids, so a batch never leaves holes or interleaves with
   * another writer's events). Resolves with them, in that order, once all are durable; `[]` appends nothing.
   */
  publishMany(inputs: readonly InvalidationInput[]): Promise<InvalidationEvent[]>;
  /**
   * Fan-out: delivers every event after `afterId` (0: from the oldest retained), in log order,
   * then every new one, to this subscriber. If events after `afterId` are gone, `onGap` is called
   * before delivery goes on: the subscriber cannot prove it saw everything and must flush what it
   * caches.
   */
  subscribe(options: { afterId: number; onEvent: (event: InvalidationEvent) => void; onGap?: (info: GapInfo) => void }): Subscription;
  /**
   * Work sharing: each event published after the group was first created goes to one consumer
   * of `group` (at least once). An event counts as done when `onEvent` resolves; one whose
   * consumer fails or dies is delivered again, to this or another consumer of the group.
   * Resolves once the group exists: every event published after that reaches it.
   */
  consume(options: { group: string; consumer: string; onEvent: (event: InvalidationEvent) => Promise<void> }): Promise<GroupSubscription>;
  /**
   * Deletes the consumers of `group` not named in `keep` that hold no event (one killed without
   * closing leaves its name otherwise); resolves with their names. One that still holds events
   * stays, for another to claim them. Optional: a log whose consumers leave no trace lacks it.
   */
  forgetConsumers?(group: string, keep: readonly string[]): Promise<string[]>;
  /** The newest id, 0 when empty. */
  lastId(): Promise<number>;
  /**
   * The registry of the nodes that share this log (where it keeps it: the same Redis), for a
   * cache that follows the log to list itself; absent when the log has no fleet to list.
   */
  nodeRegistry?(): NodeRegistry;
  close(): Promise<void>;
}

/**
 * From an event's commit (or purge request) to `appliedAt`, in ms; undefined when the event has
 * no commit time to tell (one of a format this release cannot read).
 */
export function lagOf(event: InvalidationEvent, appliedAt: number): number | undefined {
  const lag = appliedAt - event.committedAt;
  return Number.isFinite(lag) ? Math.max(0, lag) : undefined;
}
