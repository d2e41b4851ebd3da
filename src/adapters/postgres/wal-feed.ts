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
  /** Called after the slot's confirmed position moved: after a batch, or on an idle keepalive. */
  onAcknowledge?: (position: number, cause: 'changes' | 'keepalive') => void;
}

interface OpenTransaction {
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
  /** Why it ended, for start() to report when the first connection fails. */
  error?: unknown;
  closed: Promise<void>;
  close: () => void;
}

type RowMessage = Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete;

const NAME = /^[a-z_][a-z0-9_]{0,55}$/;
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
  /** Reconnecting only makes sense once a first session proved the configuration works. */
  private live = false;
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
    this.onError = options.onError ?? (() => {});
    this.onAcknowledge = options.onAcknowledge ?? (() => {});
  }

  /** Resolves once streaming; rejects if setup or the first connection fails (later ones are retried). */
  async start(onChanges: (changes: Change[]) => Promise<void>): Promise<void> {
    this.onChanges = onChanges;
    this.stopped = false;
    this.live = false;
    this.failures = 0;
    await this.setup();
    this.acked = await this.confirmedFlush();
    const session = await this.openSession();
    if (session.ended && !this.stopped) throw session.error;
    this.live = true;
  }

  /** Lets the batch in hand finish (and be acknowledged), then closes the stream. The slot stays. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    await this.chain;
    const session = this.session;
    this.session = undefined;
    if (session && !session.ended) {
      session.ended = true;
      session.close();
      await session.service.destroy();
    }
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
    const session: Session = { service, open: undefined, pending: 0, ended: false, closed, close };
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
    service.subscribe(plugin, this.slotName, '0/0').then(
      () => this.end(session, new Error('WalFeed: the replication stream ended')),
      (error: unknown) => this.end(session, error),
    );
    await Promise.race([started, closed]);
    if (this.stopped && !session.ended) {
      // stop() ran while we were connecting and found no session to close.
      session.ended = true;
      await service.destroy();
    }
    return session;
  }

  private receive(session: Session, lsn: string, message: Pgoutput.Message): void {
    if (session.ended) return;
    switch (message.tag) {
      case 'begin':
        // Microseconds since the Unix epoch: far below 2^53, so Number() is exact.
        session.open = { committedAt: Math.floor(Number(message.commitTime) / 1000), changes: [], outboxIds: [] };
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        if (!session.open) throw new Error(`WalFeed: ${message.tag} outside a transaction at ${lsn}`);
        if (message.relation.name === OUTBOX_TABLE) {
          if (message.tag === 'insert') session.open.outboxIds.push(String(message.new.id));
        } else {
          session.open.changes.push(toChange(message, session.open.committedAt));
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
      if (transaction.changes.length > 0) {
        await this.onChanges!(transaction.changes.map((change) => ({ ...change, position })));
      }
    } catch (error) {
      // Not acknowledged: the next session starts again at this transaction.
      this.end(session, error);
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
    console.log('DEBUG hb', lsn, position, shouldRespond, idle, this.acked, session.pending);
    if (idle && position > this.acked) {
      this.acknowledge(session, position, 'keepalive');
    } else if (shouldRespond && this.acked > 0) {
      // Busy: answer so the server does not time the connection out, but confirm nothing new.
      void session.service.acknowledge(formatLsn(this.acked - 1)).catch((error: unknown) => this.end(session, error));
    }
  }

  private acknowledge(session: Session, position: number, cause: 'changes' | 'keepalive'): void {
    if (position <= this.acked) return;
    // The library reports "lsn + 1" as flushed, while the server takes the value as the first
    // byte not yet confirmed: give it one less so the slot confirms exactly `position`.
    void session.service.acknowledge(formatLsn(position - 1)).catch((error: unknown) => this.end(session, error));
    this.acked = position;
    this.failures = 0;
    this.onAcknowledge(position, cause);
  }

  private end(session: Session, error: unknown): void {
    if (session.ended) return;
    session.ended = true;
    session.error = error;
    session.close();
    void session.service.destroy().catch(() => {});
    if (this.session !== session) return;
    this.session = undefined;
    if (this.stopped || !this.live) return;
    this.onError(error);
    const delay = Math.min(this.maxRetryMs, this.retryMs * 2 ** this.failures++);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      // A failure here ends that session too, which schedules the next attempt.
      if (!this.stopped) this.openSession().catch((failure: unknown) => this.onError(failure));
    }, delay);
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
