import type { Change, ChangeFeed } from '../seams/change-feed.js';
import type { InvalidationEvent, InvalidationLog } from '../seams/invalidation-log.js';
import { EVENT_FORMAT_VERSION } from '../seams/invalidation-log.js';
import { contentKey } from './region.js';

export interface RelayOptions {
  feed: ChangeFeed;
  log: InvalidationLog;
  onPublished?: (event: InvalidationEvent, change: Change) => void;
}

/**
 * Turns the origin's changes into invalidation events on the log. The feed advances its durable
 * position only after `publish` resolved for the whole batch, so a crash replays, never loses.
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
      await this.options.feed.start((changes) => this.publish(changes));
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

  private async publish(changes: Change[]): Promise<void> {
    for (const change of changes) {
      const event = await this.options.log.publish({
        kind: 'invalidate',
        v: EVENT_FORMAT_VERSION,
        keys: [contentKey(change.contentId)],
        tags: change.tags,
        prefixes: [],
        source: 'cdc',
        version: change.version,
        committedAt: change.committedAt,
      });
      this.options.onPublished?.(event, change);
    }
  }
}
