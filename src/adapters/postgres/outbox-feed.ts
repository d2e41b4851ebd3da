import type { Clock, Timer } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { Change, ChangeFeed } from '../../seams/change-feed.js';
import { OUTBOX_CHANNEL } from './content-schema.js';
import type { SqlClient } from './sql-client.js';

export interface OutboxFeedOptions {
  sql: SqlClient;
  clock?: Clock;
  /** Names this reader's durable position (one row in freshcache_relay_position). */
  name?: string;
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
 * Change capture from a transactional outbox: reads outbox rows in id order after its stored
 * position, hands them over, and only then advances the position and deletes what was handed
 * over. After a restart it resumes from the stored position: at least once, never lost.
 */
export class OutboxFeed implements ChangeFeed {
  private readonly sql: SqlClient;
  private readonly clock: Clock;
  private readonly name: string;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly onError: (error: unknown) => void;
  private onChanges: ((changes: Change[]) => Promise<void>) | undefined;
  private lastId = 0;
  private pollTimer: Timer | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private draining: Promise<void> | undefined;
  private wakeAgain = false;
  private stopped = false;

  constructor(options: OutboxFeedOptions) {
    this.sql = options.sql;
    this.clock = options.clock ?? systemClock;
    this.name = options.name ?? 'relay';
    this.pollMs = options.pollMs ?? 1000;
    this.batchSize = options.batchSize ?? 200;
    this.onError = options.onError ?? (() => {});
  }

  async start(onChanges: (changes: Change[]) => Promise<void>): Promise<void> {
    this.onChanges = onChanges;
    this.stopped = false;
    const { rows } = await this.sql.query<{ last_id: number | string }>(
      'SELECT last_id FROM freshcache_relay_position WHERE name = $1',
      [this.name],
    );
    this.lastId = rows[0] ? Number(rows[0].last_id) : 0;
    this.unlisten = await this.sql.listen(OUTBOX_CHANNEL, () => this.wake());
    this.pollTimer = this.clock.setInterval(() => this.wake(), this.pollMs);
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
      });
    return this.draining;
  }

  private async drain(): Promise<void> {
    do {
      this.wakeAgain = false;
      while (!this.stopped) {
        const { rows } = await this.sql.query<OutboxRow>(
          'SELECT id, content_id, op, tags, version, committed_at FROM freshcache_outbox WHERE id > $1 ORDER BY id LIMIT $2',
          [this.lastId, this.batchSize],
        );
        if (rows.length === 0) break;
        const changes = rows.map(toChange);
        await this.onChanges!(changes);
        const last = changes[changes.length - 1]!.position;
        await this.sql.query(
          `INSERT INTO freshcache_relay_position (name, last_id) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET last_id = EXCLUDED.last_id`,
          [this.name, last],
        );
        this.lastId = last;
        await this.sql.query('DELETE FROM freshcache_outbox WHERE id <= $1', [last]);
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
