import type { LogicalReplicationService, Pgoutput } from 'pg-logical-replication';

/**
 * pg-logical-replication is an optional peer, needed by WAL capture only: loaded when a WalFeed
 * starts, so that `freshcache/postgres` imports (and outbox capture runs) without it.
 */
let replication: Promise<typeof import('pg-logical-replication')> | undefined;
function loadReplication(): Promise<typeof import('pg-logical-replication')> {
  replication ??= import('pg-logical-replication').catch((error: unknown) => {
    replication = undefined;
    throw new Error('WAL capture needs the package pg-logical-replication: npm install pg-logical-replication', { cause: error });
  });
  return replication;
}
import type { Clock, Timer } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { ChangeFeed, ChangeSink } from '../../seams/change-feed.js';
import { qualifyTable } from '../../seams/row-change.js';
import type { Row, RowChange } from '../../seams/row-change.js';
import { checkNotPartitioned, checkPublishable, quoteTable } from './replica-identity.js';
import type { SqlClient } from './sql-client.js';
import { describeTables } from './table-catalog.js';

export interface WalFeedOptions {
  /** The replication connection: postgres://user@host:port/database, the database `sql` uses. */
  connectionString: string;
  /** Setup, the slot checks and `lagBytes()`. */
  sql: SqlClient;
  /** The tables to capture (`users`, `app.memberships`: any spelling `qualifyTable` accepts). */
  tables: readonly string[];
  /** Slots are per cluster: each database (and each relay group) needs a name of its own. */
  slotName?: string;
  /** The publication of `tables`, created by the feed and kept in step with them; by default named as the slot (one per relay group). */
  publicationName?: string;
  clock?: Clock;
  /** First reconnect delay; it doubles on each failure in a row, up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  /**
   * The longest wait before trying again after the sink failed (the log unreachable; default
   * 500 ms): nodes read the log again as soon as it returns and trust what they loaded meanwhile
   * once it is published, so the changes held back must follow at once, not after a 5 s backoff.
   */
  maxSinkRetryMs?: number;
  onError?: (error: unknown) => void;
  /**
   * Called after each status update sent to the server, with the position it confirms: after a
   * batch, or on a keepalive (idle: its LSN; busy: the unchanged position, so it repeats).
   */
  onAcknowledge?: (position: number, cause: 'changes' | 'keepalive') => void;
  /** How long stop() waits for the server to end the stream before cutting the connection. */
  closeTimeoutMs?: number;
  /**
   * Transactions that commit while the sink is busy are handed over together in its next batch,
   * of at most this many changes (default 10,000); a larger transaction still goes whole, alone.
   */
  maxBatchChanges?: number;
}

interface OpenTransaction {
  xid: number;
  /** Where its commit record starts. */
  commitPosition: number;
  committedAt: number;
  changes: Omit<RowChange, 'position'>[];
}

/** One replication connection. A failure ends it; the next one resumes from the slot. */
interface Session {
  /** The start() it belongs to: a session of an earlier run is closed, never used. */
  run: number;
  service: LogicalReplicationService;
  open: OpenTransaction | undefined;
  /** Transactions received but not yet acknowledged. */
  pending: number;
  /** Committed transactions waiting for the sink, with their commit positions: handed over together. */
  queued: { transaction: OpenTransaction; position: number }[];
  ended: boolean;
  closed: Promise<void>;
  close: () => void;
  /** Settles when the server has ended the stream (START_REPLICATION completed or failed). */
  streaming: Promise<void>;
}

type RowMessage = Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete;

const NAME = /^[a-z_][a-z0-9_]{0,55}$/;
export const CAPTURE_LOST = 'capture lost';
/**
 * Kept as the publication's comment from the moment a lost slot is found until the sink has been
 * told: a relay that crashes in between tells it on its next start instead of forgetting the loss.
 */
const LOST_MARK = 'freshcache: capture lost, flush pending';
/** START_REPLICATION errors after which the slot can never stream again and must be recreated. */
const UNUSABLE_SLOT = /can no longer get changes|cannot read from logical replication slot|has been invalidated|publication ".*" does not exist/;

/**
 * Change capture from PostgreSQL's WAL through a logical replication slot (pgoutput), for the
 * configured tables, handed over in commit order: each transaction whole, together with the
 * others that committed while the sink was busy with the batch before (one batch, each change
 * carrying its own transaction's commit position); the last commit of a batch is acknowledged to
 * the slot only after the sink resolved. The slot is the
 * durable position: a failed sink, a lost connection or a restart all resume from the last
 * acknowledged commit, so changes arrive at least once and are never lost — unless the slot
 * itself is lost (dropped, invalidated by `max_slot_wal_keep_size`, not carried over a
 * failover): then the feed recreates it and calls `sink.lost('capture lost')` before any later
 * change.
 */
export class WalFeed implements ChangeFeed {
  private readonly connectionString: string;
  private readonly sql: SqlClient;
  private readonly tables: ReadonlySet<string>;
  private readonly slotName: string;
  private readonly publication: string;
  private readonly clock: Clock;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private readonly maxSinkRetryMs: number;
  private readonly closeTimeoutMs: number;
  private readonly maxBatchChanges: number;
  private readonly onError: (error: unknown) => void;
  private readonly onAcknowledge: (position: number, cause: 'changes' | 'keepalive') => void;
  private sink: ChangeSink | undefined;
  /** The replication library, loaded by the first start(). */
  private replication: typeof import('pg-logical-replication') | undefined;
  /** The session this run streams on; `sessions` has every one not yet closed, which stop() closes. */
  private session: Session | undefined;
  private readonly sessions = new Set<Session>();
  /**
   * Bumped by start() and stop(): an attempt still in flight from an earlier run (a retry waiting
   * on the server) sees it changed after its next await and gives up instead of opening a second
   * session next to the new run's.
   */
  private run = 0;
  /** The captured tables by OID, which a rename keeps. */
  private capturedOids = new Map<number, string>();
  /** The WAL position when the catalog was read: a transaction committed later names the tables as it did, unless renamed since. */
  private catalogPosition = 0;
  /** Hands batches (and losses) over strictly one after another, across sessions too. */
  private chain: Promise<void> = Promise.resolve();
  private acked = 0;
  private failures = 0;
  private retryTimer: Timer | undefined;
  /** Sessions still shutting down: stop() waits for them, so the slot is free when it resolves. */
  private readonly closing = new Set<Promise<void>>();
  private stopped = true;
  /** The last stream failed in a way the slot cannot recover from. */
  private slotUnusable = false;
  /** A loss not yet told to the sink: no change is handed over before it is. */
  private lostPending = false;

  constructor(options: WalFeedOptions) {
    const slotName = options.slotName ?? 'freshcache_relay';
    // A slot and a publication live in different namespaces; one per relay group keeps groups with
    // different tables from overwriting each other's publication (and its lost-mark).
    const publicationName = options.publicationName ?? slotName;
    // Both names are spliced into SQL and the replication command, which take no parameters.
    for (const name of [slotName, publicationName]) {
      if (!NAME.test(name)) throw new Error(`WalFeed: "${name}" must match ${NAME.source}`);
    }
    if (!Array.isArray(options.tables) || options.tables.length === 0) throw new TypeError('WalFeed: `tables` names no table to capture');
    this.connectionString = options.connectionString;
    this.sql = options.sql;
    this.tables = new Set(options.tables.map(qualifyTable));
    this.slotName = slotName;
    this.publication = publicationName;
    this.clock = options.clock ?? systemClock;
    this.retryMs = options.retryMs ?? 100;
    this.maxRetryMs = options.maxRetryMs ?? 5000;
    this.maxSinkRetryMs = options.maxSinkRetryMs ?? 500;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.maxBatchChanges = options.maxBatchChanges ?? 10_000;
    this.onError = options.onError ?? (() => {});
    this.onAcknowledge = options.onAcknowledge ?? (() => {});
  }

  /**
   * Rejects if the setup fails (a table that does not exist, no rights). Resolves once the first
   * connection is streaming or has failed: a failed connection, then or later, goes to `onError`
   * and is retried until stop(). A standby relay taking over must not give up because the old
   * leader's walsender still holds the slot for a moment ("slot is active"); and the slot already
   * captures every change meanwhile.
   */
  async start(sink: ChangeSink): Promise<void> {
    this.replication ??= await loadReplication();
    const run = ++this.run;
    this.sink = sink;
    this.stopped = false;
    this.failures = 0;
    await this.prepare(true);
    await this.connect(run);
  }

  /** Lets the batch in hand finish (and be acknowledged), then closes the stream. The slot stays. */
  async stop(): Promise<void> {
    const run = ++this.run;
    this.stopped = true;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    await this.chain;
    // A start() made while the batch finished owns the sessions of later runs.
    if (this.session && this.session.run <= run) this.session = undefined;
    for (const session of this.sessions) if (session.run <= run && !session.ended) void this.close(session, true);
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
   * Before each connection: the tables exist and can be published, the publication lists exactly
   * them, and the slot is there and usable (else it is recreated and the loss noted). Idempotent,
   * and safe when processes race.
   */
  private async prepare(first: boolean): Promise<void> {
    const tables = [...this.tables];
    // Read before the catalog: from here on the WAL names the tables as the catalog does, unless renamed since.
    const { rows } = await this.sql.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const catalog = await describeTables(this.sql, tables);
    const missing = tables.filter((table) => !catalog.has(table));
    if (missing.length > 0) throw new Error(`WalFeed: no such table: ${missing.join(', ')}`);
    for (const info of catalog.values()) {
      checkPublishable(info);
      checkNotPartitioned(info);
    }
    this.capturedOids = new Map([...catalog.values()].map((info) => [info.oid, info.table]));
    this.catalogPosition = parseLsn(rows[0]!.lsn);
    const existed = await this.ensurePublication();
    const recreated = await this.ensureSlot(existed);
    const confirmed = await this.confirmedFlush();
    // A recreated slot starts wherever the server is now, which may be below what was acknowledged before.
    this.acked = first || recreated ? confirmed : Math.max(this.acked, confirmed);
  }

  /**
   * Creates the publication, or keeps it in step with the tables (`ALTER PUBLICATION … SET
   * TABLE`): it is never dropped, since a slot decodes with the catalog of its past and would fail
   * on a publication that did not exist back then. One statement under a transaction lock.
   * Returns whether the publication existed before.
   */
  private async ensurePublication(): Promise<boolean> {
    const { rows } = await this.sql.query<{ note: string | null }>(
      `SELECT obj_description(oid, 'pg_publication') AS note FROM pg_publication WHERE pubname = $1`,
      [this.publication],
    );
    if (rows[0]?.note === LOST_MARK) this.lostPending = true;
    const pub = this.publication;
    const list = [...this.tables].map(quoteTable).join(', ');
    const wanted = `ARRAY[${[...this.tables].map(quoteLiteral).join(', ')}]::text[]`;
    const current = `SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = '${pub}'`;
    // Partitioned tables are refused, so publish_via_partition_root would change nothing.
    const publish = `publish = 'insert, update, delete, truncate'`;
    const body = `
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('freshcache wal setup'));
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = '${pub}') THEN
    CREATE PUBLICATION ${pub} FOR TABLE ${list} WITH (${publish});
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = '${pub}' AND pubinsert AND pubupdate AND pubdelete AND pubtruncate) THEN
    ALTER PUBLICATION ${pub} SET (${publish});
  END IF;
  IF EXISTS (SELECT unnest(${wanted}) EXCEPT ${current}) OR EXISTS (${current} EXCEPT SELECT unnest(${wanted})) THEN
    ALTER PUBLICATION ${pub} SET TABLE ${list};
  END IF;
END`;
    await this.sql.query(`DO ${dollarQuote(body)}`);
    return rows.length > 0;
  }

  /**
   * Makes sure the slot exists and can stream; returns whether it had to be (re)created. A slot
   * that is invalidated, or missing while the publication already existed (dropped, or a relay
   * restarting after a failover to a standby without it), means changes were lost: the loss is
   * recorded durably first, then the slot recreated, so that it captures every change from here on.
   */
  private async ensureSlot(publicationExisted: boolean): Promise<boolean> {
    const { rows } = await this.sql.query<{ status: string | null }>(
      'SELECT wal_status AS status FROM pg_replication_slots WHERE slot_name = $1',
      [this.slotName],
    );
    const slot = rows[0];
    const unusable = slot !== undefined && (slot.status === 'lost' || this.slotUnusable);
    if (slot && !unusable) return false;
    // Without a publication this is the first start ever: there was nothing to lose.
    const lost = unusable || publicationExisted;
    if (lost) {
      await this.sql.query(`COMMENT ON PUBLICATION ${this.publication} IS '${LOST_MARK}'`);
      this.lostPending = true;
    }
    // Fails while another process still streams from it: the next attempt tries again.
    if (unusable) await this.sql.query('SELECT pg_drop_replication_slot($1)', [this.slotName]);
    try {
      // A slot cannot be created in a transaction that has written: a statement of its own.
      await this.sql.query(
        `SELECT pg_create_logical_replication_slot($1, 'pgoutput')
           WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`,
        [this.slotName],
      );
    } catch (error) {
      // Another process created it between our check and our create: that is the slot we want.
      if ((error as { code?: string }).code !== '42710') throw error;
    }
    this.slotUnusable = false;
    return true;
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

  /** Tells the sink about a loss, then opens the stream: no change of the new slot can come first. */
  private async connect(run: number): Promise<void> {
    if (run !== this.run) return;
    if (this.lostPending) {
      try {
        await this.reportLost();
      } catch (error) {
        this.retry(error, Promise.resolve(), run);
        return;
      }
    }
    if (run !== this.run) return;
    await this.openSession(run);
  }

  private async reportLost(): Promise<void> {
    const sink = this.sink!;
    // On the chain: after any batch still in the sink, before any later one.
    const report = this.chain.then(() => sink.lost(CAPTURE_LOST));
    this.chain = report.catch(() => {});
    await report;
    this.lostPending = false;
    // Left set, the mark only makes a later start tell the sink again: harmless.
    await this.sql.query(`COMMENT ON PUBLICATION ${this.publication} IS NULL`).catch((error: unknown) => this.report(error));
  }

  /** Resolves when the stream has started or the session has ended, whichever comes first. */
  private async openSession(run: number): Promise<Session> {
    const { LogicalReplicationService, PgoutputPlugin } = this.replication!;
    const service = new LogicalReplicationService(
      { connectionString: this.connectionString, application_name: 'freshcache-wal-feed' },
      // Manual acknowledgements only: the periodic status message would confirm the last
      // *received* LSN, and a crash would then lose changes the sink never finished.
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    let close = () => {};
    const closed = new Promise<void>((resolve) => (close = resolve));
    const session: Session = { run, service, open: undefined, pending: 0, queued: [], ended: false, closed, close, streaming: closed };
    this.session = session;
    this.sessions.add(session);
    service.on('data', (lsn: string, message: Pgoutput.Message) => {
      // A throw here would unwind into pg's socket handler and crash the process.
      try {
        this.receive(session, lsn, message);
      } catch (error) {
        // Our own refusal (a renamed table, say): the connection works, so end it gracefully.
        this.end(session, error, true);
      }
    });
    service.on('heartbeat', (lsn, _timestamp, shouldRespond) => this.heartbeat(session, lsn, shouldRespond));
    service.on('error', (error) => this.end(session, error));
    const started = new Promise<void>((resolve) => service.once('start', () => resolve()));
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.publication] });
    // 0/0 asks the server to start at the slot's confirmed position: the slot alone decides what
    // is redelivered. The promise settles only when the stream ends.
    session.streaming = service.subscribe(plugin, this.slotName, '0/0').then(
      () => this.end(session, new Error('WalFeed: the replication stream ended')),
      (error: unknown) => this.end(session, error),
    );
    await Promise.race([started, closed]);
    // stop() ran while we were connecting (it closes the session too; closing twice is harmless).
    if (run !== this.run && !session.ended) await this.close(session, true);
    return session;
  }

  private receive(session: Session, lsn: string, message: Pgoutput.Message): void {
    if (session.ended) return;
    switch (message.tag) {
      case 'relation': {
        // Sent before a table's first change in a session, and again after its definition changed.
        // Under another name in a transaction committed before the catalog was read, it is the
        // name the table had back then (the rules followed a rename): not an error.
        const captured = this.capturedOids.get(message.relationOid);
        const table = `${message.schema}.${message.name}`;
        const committed = session.open?.commitPosition ?? Infinity;
        if (captured !== undefined && captured !== table && committed >= this.catalogPosition) {
          throw new Error(`WalFeed: captured table ${captured} was renamed to ${table}: its changes are not captured until the capture rules name it`);
        }
        return;
      }
      case 'begin':
        session.open = {
          xid: message.xid >>> 0, // read as a signed int32
          commitPosition: message.commitLsn ? parseLsn(message.commitLsn) : Infinity,
          // Microseconds since the Unix epoch: far below 2^53, so Number() is exact.
          committedAt: Math.floor(Number(message.commitTime) / 1000),
          changes: [],
        };
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        const open = session.open;
        if (!open) throw new Error(`WalFeed: ${message.tag} outside a transaction at ${lsn}`);
        const table = this.tableOf(message.relation);
        // The publication may still list a table this feed no longer captures (changes made before it was kept in step).
        if (this.tables.has(table)) open.changes.push({ table, ...rowsOf(message), committedAt: open.committedAt, txid: open.xid });
        return;
      }
      case 'truncate': {
        const open = session.open;
        if (!open) throw new Error(`WalFeed: truncate outside a transaction at ${lsn}`);
        // One message for all the tables of one TRUNCATE statement (and those it cascaded to).
        for (const relation of message.relations) {
          const table = this.tableOf(relation);
          if (this.tables.has(table)) open.changes.push({ table, op: 'truncate', committedAt: open.committedAt, txid: open.xid });
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
        session.queued.push({ transaction, position });
        this.chain = this.chain.then(() => this.deliver(session));
        return;
      }
      default:
        return;
    }
  }

  /** A captured table by the name the rules give it, also in changes made before it was renamed to that. */
  private tableOf(relation: Pgoutput.MessageRelation): string {
    return this.capturedOids.get(relation.relationOid) ?? `${relation.schema}.${relation.name}`;
  }

  /**
   * Hands over every transaction that committed while the sink was busy, in one batch (bounded by
   * `maxBatchChanges`), and acknowledges the last one's commit once the sink resolved: under load
   * the sink's cost (a log append) is paid per batch, not per transaction. Each commit queued one
   * call; a call that finds the queue emptied by an earlier one has nothing to do.
   */
  private async deliver(session: Session): Promise<void> {
    // After stop(), only the batch already in the sink finishes; the rest waits in the slot.
    if (session.ended || this.stopped) return;
    let count = 0;
    let changes = 0;
    while (count < session.queued.length && (count === 0 || changes + session.queued[count]!.transaction.changes.length <= this.maxBatchChanges)) {
      changes += session.queued[count]!.transaction.changes.length;
      count++;
    }
    if (count === 0) return;
    const batch = session.queued.splice(0, count);
    try {
      const captured = batch.filter(({ transaction }) => transaction.changes.length > 0);
      if (captured.length > 0) {
        await this.awaitVisible(captured.map(({ transaction }) => transaction.xid));
        await this.sink!.changes(captured.flatMap(({ transaction, position }) => transaction.changes.map((change) => ({ ...change, position }))));
      }
    } catch (error) {
      // Not acknowledged: the next session starts again at the batch's first transaction.
      this.end(session, error, true, this.maxSinkRetryMs);
      return;
    }
    session.pending -= batch.length;
    if (session.ended) return;
    this.acknowledge(session, batch[batch.length - 1]!.position, 'changes');
  }

  /**
   * The commit record reaches the WAL, and so this feed, a moment before the committing backend
   * makes the transaction visible to other snapshots. Handed over in that moment, an invalidation
   * could be applied and the origin re-read while the old row is still what readers see, and
   * the old row cached as fresh (seen in testing). So wait until the transactions have left the
   * running set; that is nearly always at once.
   */
  private async awaitVisible(xids: number[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const { rows } = await this.sql.query<{ running: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_snapshot_xip(pg_current_snapshot()) AS x
                         WHERE x::text::bigint % 4294967296 = ANY($1::bigint[])) AS running`,
        [xids],
      );
      if (!rows[0]?.running) return;
      if (attempt >= 200) throw new Error(`WalFeed: transactions ${xids.join(', ')} committed but are still not visible`);
      // Yield between looks rather than hammer the origin (visibility usually follows at once).
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, Math.min(1 + attempt, 10)));
    }
  }

  private heartbeat(session: Session, lsn: string, shouldRespond: boolean): void {
    if (session.ended) return;
    // Every commit up to a keepalive's LSN was sent before it, so with nothing open or pending
    // here, everything up to it is handled. pgoutput sends nothing for transactions outside the
    // publication, so without this the slot would hold that WAL forever.
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
    // Called from socket event handlers: a throw would crash the process.
    try {
      this.onAcknowledge(position, cause);
    } catch (error) {
      this.report(error);
    }
  }

  /** onError, which must not throw into a socket event handler either. */
  private report(error: unknown): void {
    try {
      this.onError(error);
    } catch {
      // Nothing left to tell it to.
    }
  }

  /**
   * Ends a session and, unless stopped, opens the next one after a backoff. `graceful` when the
   * connection still works (a failed sink): the stream is then ended properly, so the server
   * has released the slot before the next session asks for it.
   */
  private end(session: Session, error: unknown, graceful = false, maxRetryMs = this.maxRetryMs): void {
    if (session.ended) return;
    const closing = this.close(session, graceful);
    if (this.session !== session) return;
    this.session = undefined;
    // The slot can never stream again: the next attempt recreates it (and reports the loss).
    if (UNUSABLE_SLOT.test(String((error as Error | undefined)?.message ?? error))) this.slotUnusable = true;
    this.retry(error, closing, session.run, maxRetryMs);
  }

  /** Reports a failed attempt and, unless `run` is over (stop(), or start() again), makes the next one after a backoff. */
  private retry(error: unknown, after: Promise<void>, run: number, maxRetryMs = this.maxRetryMs): void {
    if (run !== this.run) return;
    this.report(error);
    const delay = Math.min(maxRetryMs, this.retryMs * 2 ** this.failures++);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void after.then(async () => {
        if (run !== this.run) return;
        // Each reconnect checks the slot first: a lost slot must be found before streaming from a new one.
        try {
          await this.prepare(false);
        } catch (failure) {
          this.retry(failure, Promise.resolve(), run);
          return;
        }
        // A failure from here on ends that session too, which schedules the next attempt.
        await this.connect(run);
      }).catch((failure: unknown) => this.report(failure));
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
    this.sessions.delete(session);
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
export async function dropWalSlot(sql: SqlClient, slotName: string, options: { releaseTimeoutMs?: number } = {}): Promise<void> {
  // A walsender whose client just went away holds the slot until it notices: wait for it, bounded.
  const deadline = Date.now() + (options.releaseTimeoutMs ?? 5_000);
  for (;;) {
    const { rows } = await sql.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slotName]);
    if (rows.length === 0) return;
    const holder = rows[0]!.active_pid;
    if (holder === null) {
      try {
        await sql.query('SELECT pg_drop_replication_slot($1)', [slotName]);
        return;
      } catch (error) {
        // Taken again between the two queries, or dropped by someone else: look again.
        if (!/is active|does not exist/.test(String((error as Error).message))) throw error;
      }
    } else if (Date.now() >= deadline) {
      throw new Error(`dropWalSlot: replication slot ${slotName} is still in use by server process ${holder}; stop the feed that streams from it first`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
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

/**
 * The rows of a pgoutput change, with the columns it did not send left out (RowChange's rule):
 * - an old row under the default (or index) identity is the key tuple, whose other columns the
 *   protocol sends as null: only `relation.keyColumns` are kept;
 * - an update's TOASTed value that did not change is not resent ('u'); the library then decodes
 *   it as undefined (or takes it from a whole old row, under FULL): undefined values are dropped.
 * - an update that did not change the key, under the default identity, has no old row at all.
 */
function rowsOf(message: RowMessage): Pick<RowChange, 'op' | 'old' | 'new'> {
  const keyColumns = message.relation.keyColumns;
  switch (message.tag) {
    case 'insert':
      return { op: 'insert', new: present(message.new) };
    case 'update': {
      const old = message.old ? present(message.old) : message.key ? present(message.key, keyColumns) : undefined;
      return old ? { op: 'update', old, new: present(message.new) } : { op: 'update', new: present(message.new) };
    }
    case 'delete':
      return { op: 'delete', old: message.old ? present(message.old) : present(message.key ?? {}, keyColumns) };
  }
}

function present(tuple: Record<string, unknown>, only?: readonly string[]): Row {
  const row: Row = {};
  for (const column of only ?? Object.keys(tuple)) {
    const value = tuple[column];
    if (value !== undefined) row[column] = value;
  }
  return row;
}

/** A SQL string literal that means the same whatever `standard_conforming_strings` says. */
function quoteLiteral(value: string): string {
  return `E'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/** The body dollar-quoted with a tag it does not contain (table names may hold `$`). */
function dollarQuote(body: string): string {
  let tag = 'fc';
  for (let i = 0; body.includes(`$${tag}$`); i++) tag = `fc${i}`;
  return `$${tag}$${body}$${tag}$`;
}
