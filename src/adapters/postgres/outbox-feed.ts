import type { Clock, Timer } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { Change, ChangeFeed } from '../../seams/change-feed.js';
import { OUTBOX_CHANNEL } from './content-schema.js';
import type { SqlClient } from './sql-client.js';

export interface OutboxFeedOptions {
  sql: SqlClient;
  clock?: Clock;
  /** NOTIFY is only a wake-up call; this poll catches anything a lost notification would miss. */
  pollMs?: number;
  batchSize?: number;
  onError?: (error: unknown) => void;
}

interface OutboxRow {
  id: number | string;
  content_id: number | string;
  op: Change['op'];
  tags: string[];
  version: number | string;
  committed_at: Date | string;
}

/**
 * Change capture from a transactional outbox, used as a queue: reads the oldest rows, hands them
 * over, and only then deletes exactly the rows it handed over. The outbox itself is the durable
 * position, so a restart resumes with whatever is left: at least once, never lost.
 *
 * It deliberately keeps no "last id" to read after: with concurrent writers, ids are taken in one
 * order and committed in another, and a row with a smaller id that commits late would be skipped.
 * Events can therefore arrive out of id order; applying them is order-independent (invariant 5).
 */
export class OutboxFeed implements ChangeFeed {
  private readonly sql: SqlClient;
  private readonly clock: Clock;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly onError: (error: unknown) => void;
  private onChanges: ((changes: Change[]) => Promise<void>) | undefined;
  /** Highest outbox id handed over so far (for reporting). */
  private lastId = 0;
  private pollTimer: Timer | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private draining: Promise<void> | undefined;
  private wakeAgain = false;
  private stopped = false;

  constructor(options: OutboxFeedOptions) {
    this.sql = options.sql;
    this.clock = options.clock ?? systemClock;
    this.pollMs = options.pollMs ?? 1000;
    this.batchSize = options.batchSize ?? 200;
    this.onError = options.onError ?? (() => {});
  }

  async start(onChanges: (changes: Change[]) => Promise<void>): Promise<void> {
    this.onChanges = onChanges;
    this.stopped = false;
    const unlisten = await this.sql.listen(OUTBOX_CHANNEL, () => void this.wake());
    if (this.stopped) {
      // stop() was called while we were subscribing: undo instead of leaking the listener.
      await unlisten();
      return;
    }
    this.unlisten = unlisten;
    this.pollTimer = this.clock.setInterval(() => void this.wake(), this.pollMs);
    await this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pollTimer?.cancel();
    await this.unlisten?.();
    await this.draining;
  }

  async position(): Promise<number> {
    return this.lastId;
  }

  /** Reads until the outbox is drained. Calls that arrive meanwhile make it read once more. */
  wake(): Promise<void> {
    if (this.draining) {
      this.wakeAgain = true;
      return this.draining;
    }
    this.draining = this.drain()
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.draining = undefined;
        // A wake-up that came after the drain's last look would otherwise wait for the next poll.
        if (this.wakeAgain && !this.stopped) void this.wake();
      });
    return this.draining;
  }

  private async drain(): Promise<void> {
    do {
      this.wakeAgain = false;
      while (!this.stopped) {
        const { rows } = await this.sql.query<OutboxRow>(
          'SELECT id, content_id, op, tags, version, committed_at FROM freshcache_outbox ORDER BY id LIMIT $1',
          [this.batchSize],
        );
        if (rows.length === 0) break;
        const changes = rows.map(toChange);
        await this.onChanges!(changes);
        const ids = changes.map((c) => c.position);
        await this.sql.query('DELETE FROM freshcache_outbox WHERE id = ANY($1::bigint[])', [ids]);
        this.lastId = Math.max(this.lastId, ...ids);
      }
    } while (this.wakeAgain && !this.stopped);
  }
}

function toChange(row: OutboxRow): Change {
  return {
    position: Number(row.id),
    contentId: Number(row.content_id),
    op: row.op,
    tags: row.tags,
    version: Number(row.version),
    committedAt: new Date(row.committed_at).getTime(),
  };
}
