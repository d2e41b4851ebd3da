import type { Change, ChangeFeed } from '../seams/change-feed.js';
import type { InvalidationEvent, InvalidationLog } from '../seams/invalidation-log.js';
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

  constructor(private readonly options: RelayOptions) {}

  async start(): Promise<void> {
    if (this.running) return;
    // Running only once the feed really started: a failed start must be retried, not reported as running.
    await this.options.feed.start((changes) => this.publish(changes));
    this.running = true;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.options.feed.stop();
  }

  get isRunning(): boolean {
    return this.running;
  }

  private async publish(changes: Change[]): Promise<void> {
    for (const change of changes) {
      const event = await this.options.log.publish({
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
