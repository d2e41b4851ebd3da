import {
  CaptureError,
  TargetSet,
  type ChangeMapper,
  type Clock,
  systemClock,
  type ChangeFeed,
  type InvalidationEvent,
  type InvalidationInput,
  type InvalidationLog,
  formatOf,
  type RowChange,
} from 'freshcache';

const DEFAULT_MAX_TARGETS = 10_000;

export interface RelayOptions {
  feed: ChangeFeed;
  log: InvalidationLog;
  /** What a row change invalidates: the capture rules' `map` (see compileRules). */
  map: ChangeMapper;
  clock?: Clock;
  /** After each event, with the changes it carries (none for a flush after lost changes). */
  onPublished?: (event: InvalidationEvent, changes: RowChange[]) => void;
  /**
   * A transaction whose targets number more than this is published as a flush of everything
   * (reason `large transaction`); default 10 000.
   */
  maxTargets?: number;
  /** A change the rules could not map (a column missing from its row): the relay flushed everything instead. */
  onUnmappable?: (error: CaptureError, change: RowChange) => void;
}

/**
 * Turns the origin's row changes into invalidation events on the log: the changes of one
 * transaction become one event with their mapped targets. A change the rules cannot map, and
 * changes the feed lost, become an event that drops everything: a relay never skips a change.
 * The feed advances its durable position only after the batch was published, so a crash
 * replays, never loses.
 */
export class Relay {
  private running = false;
  /**
   * start() and stop() run one after the other, never overlapping: a leader that loses its lock
   * while the relay is still starting (PostgreSQL restarting) stops it only once it has started,
   * and a start after a lost lock waits for the feed to have stopped, not to share it.
   */
  private transitions: Promise<void> = Promise.resolve();

  constructor(private readonly options: RelayOptions) {}

  start(): Promise<void> {
    return this.serially(async () => {
      if (this.running) return;
      // Running only once the feed really started: a failed start must be retried, not reported as running.
      await this.options.feed.start({ changes: (changes) => this.publish(changes), lost: (reason) => this.lost(reason) });
      this.running = true;
    });
  }

  stop(): Promise<void> {
    return this.serially(async () => {
      if (!this.running) return;
      this.running = false;
      await this.options.feed.stop();
    });
  }

  get isRunning(): boolean {
    return this.running;
  }

  private serially(step: () => Promise<void>): Promise<void> {
    const done = this.transitions.then(step);
    this.transitions = done.catch(() => {});
    return done;
  }

  /**
   * All the transactions of one batch go to the log in one append (`publishMany`): one round trip
   * however many transactions the feed handed over, each still its own event with its own id.
   * The sink resolves, and the feed acknowledges its source, only once the append succeeded.
   */
  private async publish(changes: RowChange[]): Promise<void> {
    const batch = byTransaction(changes).flatMap((transaction) => {
      const input = this.eventOf(transaction);
      return input ? [{ input, transaction }] : [];
    });
    if (batch.length === 0) return;
    const events = await this.options.log.publishMany(batch.map(({ input }) => input));
    events.forEach((event, i) => this.options.onPublished?.(event, batch[i]!.transaction));
  }

  /** One transaction's event, or none when no rule maps any of its changes. */
  private eventOf(transaction: RowChange[]): InvalidationInput | undefined {
    // The version rule, per key: the highest version the transaction wrote to it, unless some
    // change of it names the key without one (a delete, an unversioned rule), which then rules.
    const targets = new TargetSet();
    let committedAt = -Infinity;
    for (const change of transaction) {
      // Not Math.max(...): a transaction of many rows would overflow the argument list.
      committedAt = Math.max(committedAt, change.committedAt);
      try {
        targets.add(this.options.map(change));
      } catch (error) {
        // Whatever a rule throws (a function rule's TypeError too), the change is not skipped:
        // a throw that went up would make the feed redeliver it forever and stall capture.
        const why = error instanceof CaptureError ? error : new CaptureError('unmappable_change', change.table, `A capture rule of ${change.table} failed on a ${change.op} at position ${change.position}: ${(error as Error)?.message ?? String(error)}`, [], { cause: error });
        this.options.onUnmappable?.(why, change);
        targets.all = true;
      }
    }
    if (targets.all) return cdcEvent({ keys: [], tags: [], prefixes: [], all: true, reason: 'unmappable change', committedAt });
    // Every node would drop these one by one, and the event would weigh megabytes in the log.
    if (targets.size > (this.options.maxTargets ?? DEFAULT_MAX_TARGETS)) return cdcEvent({ keys: [], tags: [], prefixes: [], all: true, reason: 'large transaction', committedAt });
    // Still format v1: a node that ignores keyVersions drops these keys, never keeps more.
    if (targets.size > 0) return cdcEvent({ ...targets.toTargets(), committedAt });
    return undefined;
  }

  private async lost(reason: string): Promise<void> {
    const event = await this.options.log.publish(cdcEvent({ keys: [], tags: [], prefixes: [], all: true, reason, committedAt: (this.options.clock ?? systemClock).now() }));
    this.options.onPublished?.(event, []);
  }
}

function cdcEvent(targets: Pick<InvalidationInput, 'keys' | 'tags' | 'prefixes' | 'all' | 'reason' | 'committedAt' | 'version' | 'keyVersions'>): InvalidationInput {
  return { kind: 'invalidate', v: formatOf(targets), source: 'cdc', ...targets };
}

/**
 * The changes of each transaction (same txid) together, transactions in the order they first
 * appear; a change without a txid goes alone. An outbox batch interleaves concurrent
 * transactions by id; both have committed, so publishing one before the other changes nothing.
 */
function byTransaction(changes: RowChange[]): RowChange[][] {
  const groups: RowChange[][] = [];
  const byTxid = new Map<number, RowChange[]>();
  for (const change of changes) {
    const group = change.txid === undefined ? undefined : byTxid.get(change.txid);
    if (group) {
      group.push(change);
      continue;
    }
    const fresh = [change];
    groups.push(fresh);
    if (change.txid !== undefined) byTxid.set(change.txid, fresh);
  }
  return groups;
}
