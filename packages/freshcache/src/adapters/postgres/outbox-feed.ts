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

/**
 * One read: the oldest rows above `$3` or of the transactions in progress at the last read (`$4`,
 * and any from `$5` on: a snapshot lists only those below its xmax, though later ones may run too),
 * grown to whole transactions; the last id of those oldest rows (every visible row up to it is in
 * the batch); and the transactions this read's snapshot sees in progress. One
 * statement, one snapshot: a committed transaction's rows are all visible, and the in-progress
 * list belongs to the same moment. The one-row `snapshot` side answers even when no row does,
 * with the id sequence's last value: below the last id read, the database went back (a restore
 * to an earlier point) and numbers its new rows below it again.
 */
const READ_BATCH = `
WITH
-- By txid alone: MATERIALIZED keeps the planner from also walking the table_name index, which
-- holds every deleted row until autovacuum comes (tens of thousands on a busy outbox).
late AS MATERIALIZED (SELECT id, txid, table_name FROM ${OUTBOX_TABLE} WHERE txid = ANY($4::bigint[]) OR txid >= $5),
head AS (
  SELECT id, txid FROM (
    (SELECT id, txid FROM ${OUTBOX_TABLE} WHERE table_name = ANY($2::text[]) AND id > $3 ORDER BY id LIMIT $1)
    UNION
    (SELECT id, txid FROM late WHERE table_name = ANY($2::text[]))
  ) candidates ORDER BY id LIMIT $1
),
whole AS MATERIALIZED (SELECT id, table_name FROM ${OUTBOX_TABLE} WHERE txid = ANY (ARRAY(SELECT DISTINCT txid FROM head)))
SELECT snapshot.*, batch.* FROM
  (SELECT array(SELECT txid_snapshot_xip(txid_current_snapshot())::text) AS in_progress,
          txid_snapshot_xmax(txid_current_snapshot())::text AS unassigned_from,
          (SELECT max(id) FROM head)::text AS head_last,
          pg_sequence_last_value('${OUTBOX_TABLE}_id_seq'::regclass)::text AS id_last) snapshot
  LEFT JOIN (
    SELECT id, txid, table_name, op, old::text AS old, new::text AS new, committed_at FROM ${OUTBOX_TABLE}
     WHERE id IN (
       SELECT id FROM ${OUTBOX_TABLE} WHERE table_name = ANY($2::text[]) AND id > $3 AND id <= (SELECT max(id) FROM head)
       UNION
       SELECT id FROM whole WHERE table_name = ANY($2::text[])
     )
  ) batch ON true
 ORDER BY batch.id`;

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
 * With concurrent writers, ids are taken in one order and committed in another, so "the rows after
 * the last id read" would skip a row with a smaller id that commits late. Each read therefore also
 * notes the transactions its snapshot saw in progress: a row with an id at or below the last one
 * handed over was numbered before that snapshot, so it is either handed over already or belongs
 * to one of them. The next read takes the rows above that id, plus those transactions' rows. It
 * never walks the rows already deleted, which a busy outbox holds by the hundred thousand until
 * autovacuum comes (every read walked them, tens of milliseconds each, before).
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
  /** Every row at or below this id is handed over, or belongs to a transaction of `inProgress`. */
  private readAfter = '0';
  /** Transactions a read saw in progress, whose rows may yet commit below `readAfter`: these, and any from `unassignedFrom` on. */
  private inProgress: string[] = [];
  private unassignedFrom = '0';
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
    // A start reads the whole outbox once: whatever happened while stopped (another relay's
    // drain, a restored database whose ids went back) cannot hide a row below the last id.
    this.readAfter = '0';
    this.inProgress = [];
    this.unassignedFrom = '0';
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
      .catch((error: unknown) => {
        // The database may have come back as another (a promoted replica, a restore) whose ids and
        // transactions went back by more than its sequence shows: the next read takes it whole.
        this.readAfter = '0';
        this.inProgress = [];
        this.unassignedFrom = '0';
        this.onError(error);
      })
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
        const { rows: answer } = await this.sql.query<OutboxRow & { in_progress: string[]; unassigned_from: string; head_last: string | null; id_last: string | null }>(READ_BATCH, [
          this.batchSize,
          this.tables,
          this.readAfter,
          this.inProgress,
          this.unassignedFrom,
        ]);
        const seenInProgress = answer[0]?.in_progress ?? [];
        const seenUnassignedFrom = answer[0]?.unassigned_from ?? this.unassignedFrom;
        const headLast = answer[0]?.head_last ?? null;
        const idLast = answer[0]?.id_last ?? null;
        if (idLast !== null && BigInt(idLast) < BigInt(this.readAfter)) {
          // The database went back under a running feed: read the whole outbox again, as a start does.
          this.readAfter = '0';
          this.inProgress = [];
          this.unassignedFrom = '0';
          continue;
        }
        const rows = answer.filter((row) => row.id !== null);
        if (rows.length > 0) {
          await this.sink!.changes(rows.map(toChange));
          // Exactly the rows handed over, all of its own tables.
          const ids = rows.map((row) => String(row.id));
          await this.sql.query(`DELETE FROM ${OUTBOX_TABLE} WHERE id = ANY($1::bigint[])`, [ids]);
          // Not the last id handed over: a whole transaction can reach past rows of others left for later.
          if (headLast !== null && BigInt(headLast) > BigInt(this.readAfter)) this.readAfter = headLast;
          // Not Math.max(...ids): a large transaction's batch would overflow the argument list.
          this.lastId = ids.reduce((max, id) => Math.max(max, Number(id)), this.lastId);
        }
        // A full batch may have left rows of the earlier in-progress transactions behind: keep them.
        const full = rows.length >= this.batchSize;
        this.inProgress = full ? [...new Set([...this.inProgress, ...seenInProgress])] : seenInProgress;
        this.unassignedFrom = full && BigInt(this.unassignedFrom) < BigInt(seenUnassignedFrom) ? this.unassignedFrom : seenUnassignedFrom;
        if (rows.length === 0) break;
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

/** Text that may hold a number JavaScript cannot hold exactly: 16 digits in a row, or a fraction or exponent. */
const MAYBE_INEXACT = /\d{16}|\d[.eE]/;

/** A JSON string token, or a number token (outside strings, JSON has no other digits). */
const TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * A row from its jsonb text. Integers JavaScript holds exactly stay numbers; any other number
 * becomes its exact text: a bigint id beyond 2^53 (a snowflake id) would otherwise round and
 * render the key of another row, and numeric keeps its digits (`1.50`), as pgoutput's text has them.
 */
function parseRow(json: string): Row {
  // Most rows hold no such number: without a run of 16 digits or a digit before `.`, `e` or `E`
  // (in a string too, which only sends it the long way), plain JSON.parse reads it the same.
  if (!MAYBE_INEXACT.test(json)) return JSON.parse(json) as Row;
  return JSON.parse(
    json.replace(TOKEN, (token) => (token.startsWith('"') || (/^-?\d+$/.test(token) && Number.isSafeInteger(Number(token))) ? token : `"${token}"`)),
  ) as Row;
}
