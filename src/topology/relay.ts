import { CaptureError } from '../capture/capture-error.js';
import type { ChangeMapper } from '../capture/capture-rules.js';
import type { Clock } from '../engine/clock.js';
import { systemClock } from '../engine/clock.js';
import type { ChangeFeed } from '../seams/change-feed.js';
import type { InvalidationEvent, InvalidationInput, InvalidationLog } from '../seams/invalidation-log.js';
import { formatOf } from '../seams/invalidation-log.js';
import type { RowChange } from '../seams/row-change.js';

export interface RelayOptions {
  feed: ChangeFeed;
  log: InvalidationLog;
  /** What a row change invalidates: the capture rules' `map` (see compileRules). */
  map: ChangeMapper;
  clock?: Clock;
  /** After each event, with the changes it carries (none for a flush after lost changes). */
  onPublished?: (event: InvalidationEvent, changes: RowChange[]) => void;
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

  private async publish(changes: RowChange[]): Promise<void> {
    for (const transaction of byTransaction(changes)) {
      const keys = new Set<string>();
      const tags = new Set<string>();
      const prefixes = new Set<string>();
      let unmappable = false;
      for (const change of transaction) {
        try {
          const targets = this.options.map(change);
          for (const key of targets.keys) keys.add(key);
          for (const tag of targets.tags) tags.add(tag);
          for (const prefix of targets.prefixes) prefixes.add(prefix);
          if (targets.all) unmappable = true;
        } catch (error) {
          if (!(error instanceof CaptureError)) throw error;
          this.options.onUnmappable?.(error, change);
          unmappable = true;
        }
      }
      const committedAt = Math.max(...transaction.map((change) => change.committedAt));
      if (unmappable) {
        await this.send({ keys: [], tags: [], prefixes: [], all: true, reason: 'unmappable change', committedAt }, transaction);
      } else if (keys.size + tags.size + prefixes.size > 0) {
        await this.send({ keys: [...keys], tags: [...tags], prefixes: [...prefixes], committedAt }, transaction);
      }
    }
  }

  private async lost(reason: string): Promise<void> {
    await this.send({ keys: [], tags: [], prefixes: [], all: true, reason, committedAt: (this.options.clock ?? systemClock).now() }, []);
  }

  private async send(targets: Pick<InvalidationInput, 'keys' | 'tags' | 'prefixes' | 'all' | 'reason' | 'committedAt'>, changes: RowChange[]): Promise<void> {
    const event = await this.options.log.publish({ kind: 'invalidate', v: formatOf(targets), source: 'cdc', ...targets });
    this.options.onPublished?.(event, changes);
  }
}

/** Consecutive changes of one transaction (same txid) go together; a change without a txid goes alone. */
function byTransaction(changes: RowChange[]): RowChange[][] {
  const groups: RowChange[][] = [];
  for (const change of changes) {
    const last = groups.at(-1);
    if (last && change.txid !== undefined && last[0]!.txid === change.txid) last.push(change);
    else groups.push([change]);
  }
  return groups;
}
