import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import type { Pgoutput } from 'pg-logical-replication';
import type { Clock, Timer } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { Change, ChangeFeed } from '../../seams/change-feed.js';
import type { SqlClient } from './sql-client.js';

export interface WalFeedOptions {
  /** The replication connection: postgres://user@host:port/database, the database `sql` uses. */
  connectionString: string;
  /** Setup, outbox clean-up and `lagBytes()`. */
  sql: SqlClient;
  /** Slots are per cluster: each database (and each relay group) needs a name of its own. */
  slotName?: string;
  /** Publication of `content`; `<name>_outbox` publishes the outbox's inserts. */
  publicationName?: string;
  clock?: Clock;
  /** First reconnect delay; it doubles on each failure in a row, up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  onError?: (error: unknown) => void;
  /**
   * Called after each status update sent to the server, with the position it confirms: after a
   * batch, or on a keepalive (idle: its LSN; busy: the unchanged position, so it repeats).
   */
  onAcknowledge?: (position: number, cause: 'changes' | 'keepalive') => void;
  /** How long stop() waits for the server to end the stream before cutting the connection. */
  closeTimeoutMs?: number;
}

interface OpenTransaction {
  xid: number;
  committedAt: number;
  changes: Omit<Change, 'position'>[];
  outboxIds: string[];
}

/** One replication connection. A failure ends it; the next one resumes from the slot. */
interface Session {
  service: LogicalReplicationService;
  open: OpenTransaction | undefined;
  /** Transactions received but not yet acknowledged. */
  pending: number;
  ended: boolean;
  closed: Promise<void>;
  close: () => void;
  /** Settles when the server has ended the stream (START_REPLICATION completed or failed). */
  streaming: Promise<void>;
}

type RowMessage = Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete;

const NAME = /^[a-z_][a-z0-9_]{0,55}$/;
const CONTENT_TABLE = 'content';
const OUTBOX_TABLE = 'freshcache_outbox';

/**
 * Change capture from PostgreSQL's WAL through a logical replication slot (pgoutput). Each
 * transaction becomes one batch, handed over one at a time in commit order; its commit is
 * acknowledged to the slot only after the handler resolved. The slot is the durable position: a
 * failed handler, a lost connection or a restart all resume from the last acknowledged commit,
 * so changes arrive at least once and are never lost.
 */
export class WalFeed implements ChangeFeed {
  private readonly connectionString: string;
  private readonly sql: SqlClient;
  private readonly slotName: string;
  private readonly publications: [content: string, outbox: string];
  private readonly clock: Clock;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private readonly closeTimeoutMs: number;
  private readonly onError: (error: unknown) => void;
  private readonly onAcknowledge: (position: number, cause: 'changes' | 'keepalive') => void;
  private onChanges: ((changes: Change[]) => Promise<void>) | undefined;
  private session: Session | undefined;
  /** Hands batches over strictly one after another, across sessions too. */
  private chain: Promise<void> = Promise.resolve();
  private acked = 0;
  /** Relayed outbox rows whose delete failed; retried with the next batch. */
  private undeleted: string[] = [];
  private failures = 0;
  private retryTimer: Timer | undefined;
  /** Sessions still shutting down: stop() waits for them, so the slot is free when it resolves. */
  private readonly closing = new Set<Promise<void>>();
  private stopped = true;

  constructor(options: WalFeedOptions) {
    const slotName = options.slotName ?? 'freshcache_relay';
    const publicationName = options.publicationName ?? 'freshcache_content';
    // Both names are spliced into SQL and the replication command, which take no parameters.
    for (const name of [slotName, publicationName]) {
      if (!NAME.test(name)) throw new Error(`WalFeed: "${name}" must match ${NAME.source}`);
    }
    this.connectionString = options.connectionString;
    this.sql = options.sql;
    this.slotName = slotName;
    this.publications = [publicationName, `${publicationName}_outbox`];
    this.clock = options.clock ?? systemClock;
    this.retryMs = options.retryMs ?? 100;
    this.maxRetryMs = options.maxRetryMs ?? 5000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.onError = options.onError ?? (() => {});
    this.onAcknowledge = options.onAcknowledge ?? (() => {});
  }

  /**
   * Rejects if the setup fails. Resolves once the first connection is streaming or has failed: a
   * failed connection, then or later, goes to `onError` and is retried until stop(). A standby
   * relay taking over must not give up because the old leader's walsender still holds the slot
   * for a moment ("slot is active"); and the slot already captures every change meanwhile.
   */
  async start(onChanges: (changes: Change[]) => Promise<void>): Promise<void> {
    this.onChanges = onChanges;
    this.stopped = false;
    this.failures = 0;
    await this.setup();
    this.acked = await this.confirmedFlush();
    await this.openSession();
  }

  /** Lets the batch in hand finish (and be acknowledged), then closes the stream. The slot stays. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    await this.chain;
    const session = this.session;
    this.session = undefined;
    if (session && !session.ended) void this.close(session, true);
    await Promise.all(this.closing);
  }

  async position(): Promise<number> {
    return this.acked;
  }

  /** WAL the slot still holds back for this feed, in bytes: what a crash now would replay. */
  async lagBytes(): Promise<number> {
    const { rows } = await this.sql.query<{ lag: number | string }>(
      'SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::float8 AS lag FROM pg_replication_slots WHERE slot_name = $1',
      [this.slotName],
    );
    if (!rows[0]) throw new Error(`WalFeed: replication slot ${this.slotName} does not exist`);
    return Number(rows[0].lag);
  }

  /**
   * Idempotent, and safe when processes race: one statement under a transaction lock for the
   * publications and the replica identity, then the slot in a statement of its own (a slot cannot
   * be created in a transaction that has written).
   */
  private async setup(): Promise<void> {
    const [content, outbox] = this.publications;
    await this.sql.query(`DO $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('freshcache wal setup'));
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = '${content}') THEN
    -- No truncate: it names no rows, and the outbox trigger does not see it either.
    CREATE PUBLICATION ${content} FOR TABLE content WITH (publish = 'insert, update, delete');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = '${outbox}') THEN
    -- Inserts only: the feed's own deletes of relayed rows must not come back as transactions.
    CREATE PUBLICATION ${outbox} FOR TABLE ${OUTBOX_TABLE} WITH (publish = 'insert');
  END IF;
  -- FULL: updates carry the old row (its tags) and deletes carry the whole row, not just the key.
  -- Checked first because the ALTER takes an exclusive lock on content.
  IF (SELECT relreplident FROM pg_class WHERE oid = 'content'::regclass) <> 'f' THEN
    ALTER TABLE content REPLICA IDENTITY FULL;
  END IF;
END $$`);
    try {
      await this.sql.query(
        `SELECT pg_create_logical_replication_slot($1, 'pgoutput')
           WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`,
        [this.slotName],
      );
    } catch (error) {
      // Another process created it between our check and our create: that is the slot we want.
      if ((error as { code?: string }).code !== '42710') throw error;
    }
  }

  private async confirmedFlush(): Promise<number> {
    const { rows } = await this.sql.query<{ database: string; plugin: string; lsn: string; here: string }>(
      `SELECT database, plugin, confirmed_flush_lsn::text AS lsn, current_database() AS here
         FROM pg_replication_slots WHERE slot_name = $1`,
      [this.slotName],
    );
    const slot = rows[0];
    if (!slot) throw new Error(`WalFeed: replication slot ${this.slotName} does not exist`);
    if (slot.database !== slot.here || slot.plugin !== 'pgoutput') {
      throw new Error(`WalFeed: slot ${this.slotName} is a ${slot.plugin} slot of database ${slot.database}`);
    }
    return parseLsn(slot.lsn);
  }

  /** Resolves when the stream has started or the session has ended, whichever comes first. */
  private async openSession(): Promise<Session> {
    const service = new LogicalReplicationService(
      { connectionString: this.connectionString, application_name: 'freshcache-wal-feed' },
      // Manual acknowledgements only: the periodic status message would confirm the last
      // *received* LSN, and a crash would then lose changes the handler never finished.
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    let close = () => {};
    const closed = new Promise<void>((resolve) => (close = resolve));
    const session: Session = { service, open: undefined, pending: 0, ended: false, closed, close, streaming: closed };
    this.session = session;
    service.on('data', (lsn: string, message: Pgoutput.Message) => {
      // A throw here would unwind into pg's socket handler and crash the process.
      try {
        this.receive(session, lsn, message);
      } catch (error) {
        this.end(session, error);
      }
    });
    service.on('heartbeat', (lsn, _timestamp, shouldRespond) => this.heartbeat(session, lsn, shouldRespond));
    service.on('error', (error) => this.end(session, error));
    const started = new Promise<void>((resolve) => service.once('start', () => resolve()));
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [...this.publications] });
    // 0/0 asks the server to start at the slot's confirmed position: the slot alone decides what
    // is redelivered. The promise settles only when the stream ends.
    session.streaming = service.subscribe(plugin, this.slotName, '0/0').then(
      () => this.end(session, new Error('WalFeed: the replication stream ended')),
      (error: unknown) => this.end(session, error),
    );
    await Promise.race([started, closed]);
    // stop() ran while we were connecting and found no session to close.
    if (this.stopped && !session.ended) await this.close(session, true);
    return session;
  }

  private receive(session: Session, lsn: string, message: Pgoutput.Message): void {
    if (session.ended) return;
    switch (message.tag) {
      case 'begin':
        session.open = {
          xid: message.xid >>> 0, // read as a signed int32
          // Microseconds since the Unix epoch: far below 2^53, so Number() is exact.
          committedAt: Math.floor(Number(message.commitTime) / 1000),
          changes: [],
          outboxIds: [],
        };
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        if (!session.open) throw new Error(`WalFeed: ${message.tag} outside a transaction at ${lsn}`);
        if (message.relation.name === CONTENT_TABLE) {
          session.open.changes.push(toChange(message, session.open.committedAt));
        } else if (message.relation.name === OUTBOX_TABLE && message.tag === 'insert') {
          session.open.outboxIds.push(String(message.new.id));
        }
        return;
      }
      case 'commit': {
        const transaction = session.open;
        session.open = undefined;
        if (!transaction) return;
        // The commit's *end*: the slot's confirmed position is the first byte not yet confirmed,
        // and the server skips a transaction whose commit record starts before it.
        const position = parseLsn(message.commitEndLsn ?? lsn);
        session.pending++;
        this.chain = this.chain.then(() => this.deliver(session, transaction, position));
        return;
      }
      default:
        return;
    }
  }

  private async deliver(session: Session, transaction: OpenTransaction, position: number): Promise<void> {
    // After stop(), only the batch already in the handler finishes; the rest waits in the slot.
    if (session.ended || this.stopped) return;
    try {
      await this.awaitVisible(transaction.xid);
      if (transaction.changes.length > 0) {
        await this.onChanges!(transaction.changes.map((change) => ({ ...change, position })));
      }
    } catch (error) {
      // Not acknowledged: the next session starts again at this transaction.
      this.end(session, error, true);
      return;
    }
    // Before the acknowledgement, so that a crash in between leaves no outbox row behind: the
    // transaction is redelivered and the delete repeated.
    await this.deleteRelayedOutboxRows(transaction.outboxIds);
    session.pending--;
    if (session.ended) return;
    this.acknowledge(session, position, 'changes');
  }

  /**
   * The commit record reaches the WAL, and so this feed, a moment before the committing backend
   * makes the transaction visible to other snapshots. Handed over in that moment, an invalidation
   * could be applied and the origin re-read while the old row is still what readers see, and
   * the old row cached as fresh; the outbox delete would miss the rows too (seen in testing).
   * So wait until the transaction has left the running set; that is nearly always at once.
   */
  private async awaitVisible(xid: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const { rows } = await this.sql.query<{ running: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_snapshot_xip(pg_current_snapshot()) AS x
                         WHERE x::text::bigint % 4294967296 = $1) AS running`,
        [xid],
      );
      if (!rows[0]?.running) return;
      if (attempt >= 200) throw new Error(`WalFeed: transaction ${xid} committed but is still not visible`);
      // Yield between looks rather than hammer the origin (visibility usually follows at once).
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, Math.min(1 + attempt, 10)));
    }
  }

  /**
   * The outbox trigger keeps writing while the WAL is the feed, and nothing else would delete
   * those rows. Exactly the rows whose transaction was relayed are deleted, never "up to an id"
   * (a lower id can commit later) and the trigger is not disabled: any change not yet relayed
   * stays in the outbox, so a switch back to the outbox feed loses nothing (it may repeat some,
   * which applying tolerates).
   */
  private async deleteRelayedOutboxRows(ids: string[]): Promise<void> {
    const all = this.undeleted.length > 0 ? [...this.undeleted, ...ids] : ids;
    if (all.length === 0) return;
    try {
      await this.sql.query(`DELETE FROM ${OUTBOX_TABLE} WHERE id = ANY($1::bigint[])`, [all]);
      this.undeleted = [];
    } catch (error) {
      // The changes are relayed: a failed clean-up only delays the delete, it must not stall the feed.
      this.undeleted = all;
      this.onError(error);
    }
  }

  private heartbeat(session: Session, lsn: string, shouldRespond: boolean): void {
    if (session.ended) return;
    // Every commit up to a keepalive's LSN was sent before it, so with nothing open or pending
    // here, everything up to it is handled. pgoutput sends nothing for transactions outside the
    // publications, so without this the slot would hold that WAL forever.
    const idle = session.open === undefined && session.pending === 0;
    const position = parseLsn(lsn);
    if (idle && position > this.acked) {
      this.acknowledge(session, position, 'keepalive');
    } else if (shouldRespond && this.acked > 0) {
      // Busy (or nothing new): answer so the server does not time the connection out, but
      // confirm nothing new.
      this.sendStatus(session, this.acked, 'keepalive');
    }
  }

  private acknowledge(session: Session, position: number, cause: 'changes' | 'keepalive'): void {
    if (position <= this.acked) return;
    this.acked = position;
    this.failures = 0;
    this.sendStatus(session, position, cause);
  }

  private sendStatus(session: Session, position: number, cause: 'changes' | 'keepalive'): void {
    // The library reports "lsn + 1" as flushed, while the server takes the value as the first
    // byte not yet confirmed (and skips a commit that starts before it): give it one less so the
    // slot confirms exactly `position`.
    void session.service.acknowledge(formatLsn(position - 1)).catch((error: unknown) => this.end(session, error));
    this.onAcknowledge(position, cause);
  }

  /**
   * Ends a session and, unless stopped, opens the next one after a backoff. `graceful` when the
   * connection still works (a failed handler): the stream is then ended properly, so the server
   * has released the slot before the next session asks for it.
   */
  private end(session: Session, error: unknown, graceful = false): void {
    if (session.ended) return;
    const closing = this.close(session, graceful);
    if (this.session !== session) return;
    this.session = undefined;
    if (this.stopped) return;
    this.onError(error);
    const delay = Math.min(this.maxRetryMs, this.retryMs * 2 ** this.failures++);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void closing.then(() => {
        // A failure here ends that session too, which schedules the next attempt.
        if (!this.stopped) return this.openSession();
      }).catch((failure: unknown) => this.onError(failure));
    }, delay);
  }

  /**
   * Closing the socket alone leaves the server's walsender holding the slot for a moment, and a
   * restart or `dropWalSlot` right after fails with "slot is active". A CopyDone instead makes the
   * server end START_REPLICATION, which releases the slot before it completes.
   */
  private close(session: Session, graceful: boolean): Promise<void> {
    session.ended = true;
    session.close();
    const closing = this.endStream(session, graceful).finally(() => this.closing.delete(closing));
    this.closing.add(closing);
    return closing;
  }

  private async endStream(session: Session, graceful: boolean): Promise<void> {
    if (graceful) {
      // The library exposes no way to end the copy; its connection is pg's Connection.
      const connection = (session.service as unknown as { _connection?: { endCopyFrom(): void } | null })._connection;
      if (connection) {
        try {
          connection.endCopyFrom();
        } catch {
          // The connection broke meanwhile: there is nothing left to end gracefully.
        }
        let timer: Timer | undefined;
        await Promise.race([
          session.streaming,
          new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, this.closeTimeoutMs))),
        ]);
        timer?.cancel();
      }
    }
    await session.service.destroy().catch(() => {});
  }
}

/** Removes the slot, and with it the WAL it holds: for teardown and uninstall, never on stop. */
export async function dropWalSlot(sql: SqlClient, slotName: string): Promise<void> {
  await sql.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
    slotName,
  ]);
}

/**
 * An LSN "X/Y" as X * 2^32 + Y. Exact while below 2^53 bytes (8 PiB) of WAL written over the
 * cluster's life, far beyond any real server.
 */
export function parseLsn(lsn: string): number {
  const [high, low] = lsn.split('/');
  return parseInt(high!, 16) * 2 ** 32 + parseInt(low!, 16);
}

function formatLsn(position: number): string {
  const high = Math.floor(position / 2 ** 32);
  return `${high.toString(16).toUpperCase()}/${(position - high * 2 ** 32).toString(16).toUpperCase()}`;
}

interface ContentTuple {
  id?: unknown;
  tags?: unknown;
  version?: unknown;
}

function toChange(message: RowMessage, committedAt: number): Omit<Change, 'position'> {
  const after = message.tag === 'delete' ? undefined : (message.new as ContentTuple);
  const before = message.tag === 'insert' ? undefined : ((message.old ?? undefined) as ContentTuple | undefined);
  if (message.tag !== 'insert' && !before) {
    // Without the old row the tags before the change are unknown, and views under them would stay stale.
    throw new Error('WalFeed: content has lost REPLICA IDENTITY FULL; updates and deletes carry no old row');
  }
  // A delete reports the deleted row's version. The version only identifies the change (marks
  // are compared by sequence, not version), and a delete needs no newer one to invalidate.
  const row = (after ?? before)!;
  const tags = new Set<string>([...asTags(before?.tags), ...asTags(after?.tags)]);
  return {
    contentId: Number(row.id),
    op: message.tag,
    tags: [...tags].sort(),
    version: Number(row.version),
    committedAt,
  };
}

function asTags(value: unknown): string[] {
  return Array.isArray(value) ? (value as string[]) : [];
}
