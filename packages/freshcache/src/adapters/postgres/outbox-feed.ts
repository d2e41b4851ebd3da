import type { Clock, Timer } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { ChangeFeed, ChangeSink } from '../../seams/change-feed.js';
import { qualifyTable, type Row, type RowChange, type RowOp } from '../../seams/row-change.js';
import { missingOutboxTriggers, OUTBOX_CHANNEL, OUTBOX_TABLE } from './outbox-install.js';
import type { SqlClient } from './sql-client.js';

export interface OutboxFeedOptions {
  sql: SqlClient;
  /** The captured tables (any spelling `qualifyTable` accepts); each must have the capture triggers (`installOutbox`). */
  tables: readonly string[];
  clock?: Clock;
  /** NOTIFY is only a wake-up call; this poll catches anything a lost notification would miss. */
  pollMs?: number;
  /** Outbox rows read at once (default 1,000); a batch grows beyond it to hold whole transactions. */
  batchSize?: number;
  onError?: (error: unknown) => void;
}

interface OutboxRow {
  id: number | string;
  txid: number | string;
  table_name: string;
  op: RowOp;
  /** jsonb as text, parsed by `parseRow`. */
  old: string | null;
  new: string | null;
  committed_at: Date | string;
}

/**
 * Change capture from the transactional outbox `freshcache.outbox` (see outbox-install.ts), used
 * as a queue: reads the oldest rows, hands them over, and only then deletes exactly the rows it
 * handed over. The outbox itself is the durable position, so a restart resumes with whatever is
 * left: at least once, never lost (the sink's `lost` is never called).
 *
 * It deliberately keeps no "last id" to read after: with concurrent writers, ids are taken in one
 * order and committed in another, and a row with a smaller id that commits late would be skipped.
 * Changes of concurrent transactions can therefore arrive out of commit order; applying the
 * invalidations they map to is order-independent (invariant 5). A transaction's own changes stay
 * together and in order: a batch takes every row of each transaction it touches.
 *
 * It reads and deletes only the rows of its own tables: the others are left for whoever captures
 * them (another relay group, or relays not yet rolled out to rules naming a newly installed table).
 * A transaction's rows of its tables are still taken whole: they are visible together or not at all.
 * Rows of a table nobody captures any more stay until deleted (`capture uninstall` stops new ones).
 */
export class OutboxFeed implements ChangeFeed {
  private readonly sql: SqlClient;
  private readonly tables: string[];
  private readonly clock: Clock;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly onError: (error: unknown) => void;
  private sink: ChangeSink | undefined;
  /** Highest outbox id handed over so far (for reporting). */
  private lastId = 0;
  private pollTimer: Timer | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private draining: Promise<void> | undefined;
  private wakeAgain = false;
  private stopped = false;

  constructor(options: OutboxFeedOptions) {
    this.sql = options.sql;
    this.tables = [...new Set(options.tables.map(qualifyTable))];
    this.clock = options.clock ?? systemClock;
    this.pollMs = options.pollMs ?? 1000;
    this.batchSize = options.batchSize ?? 1000;
    this.onError = options.onError ?? (() => {});
  }

  /** Refuses to start while a captured table lacks its triggers: its changes would go unrecorded. */
  async start(sink: ChangeSink): Promise<void> {
    // Before any await: a stop() during the check below must not be undone.
    this.stopped = false;
    const missing = await missingOutboxTriggers(this.sql, this.tables);
    if (this.stopped) return;
    if (missing.length > 0) {
      throw new Error(
        `Outbox capture: ${missing.join(', ')} ${missing.length === 1 ? 'has' : 'have'} no freshcache capture triggers (or no such table); run \`freshcache capture install --config FILE\``,
      );
    }
    this.sink = sink;
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
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    await unlisten?.();
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
        // The oldest rows, plus every other row of their transactions: one statement, one
        // snapshot, in which a committed transaction's rows are all visible.
        const { rows } = await this.sql.query<OutboxRow>(
          `WITH head AS (SELECT id, txid FROM ${OUTBOX_TABLE} WHERE table_name = ANY($2::text[]) ORDER BY id LIMIT $1)
           SELECT id, txid, table_name, op, old::text AS old, new::text AS new, committed_at FROM ${OUTBOX_TABLE}
            WHERE table_name = ANY($2::text[]) AND (id <= (SELECT max(id) FROM head) OR txid IN (SELECT txid FROM head))
            ORDER BY id`,
          [this.batchSize, this.tables],
        );
        if (rows.length === 0) break;
        await this.sink!.changes(rows.map(toChange));
        // Exactly the rows handed over, all of its own tables.
        const ids = rows.map((row) => Number(row.id));
        await this.sql.query(`DELETE FROM ${OUTBOX_TABLE} WHERE id = ANY($1::bigint[])`, [ids]);
        // Not Math.max(...ids): a large transaction's batch would overflow the argument list.
        this.lastId = ids.reduce((max, id) => Math.max(max, id), this.lastId);
      }
    } while (this.wakeAgain && !this.stopped);
  }
}

function toChange(row: OutboxRow): RowChange {
  const change: RowChange = {
    table: row.table_name,
    op: row.op,
    position: Number(row.id),
    committedAt: new Date(row.committed_at).getTime(),
    txid: Number(row.txid),
  };
  if (row.old !== null) change.old = parseRow(row.old);
  if (row.new !== null) change.new = parseRow(row.new);
  return change;
}

/** A JSON string token, or a number token (outside strings, JSON has no other digits). */
const TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * A row from its jsonb text. Integers JavaScript holds exactly stay numbers; any other number
 * becomes its exact text: a bigint id beyond 2^53 (a snowflake id) would otherwise round and
 * render the key of another row, and numeric keeps its digits (`1.50`), as pgoutput's text has them.
 */
function parseRow(json: string): Row {
  return JSON.parse(
    json.replace(TOKEN, (token) => (token.startsWith('"') || (/^-?\d+$/.test(token) && Number.isSafeInteger(Number(token))) ? token : `"${token}"`)),
  ) as Row;
}
