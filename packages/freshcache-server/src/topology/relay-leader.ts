import pg from 'pg';
import { type Clock, type Timer, systemClock } from 'freshcache';

export interface RelayLeaderOptions {
  /** The origin database: the lock lives there, so whoever can reach the origin can lead. */
  connectionString: string;
  /** How often a standby tries to take the lock. */
  electionMs: number;
  /** Runs when this process becomes the leader (start the relay). */
  onElected: () => Promise<void>;
  /** Runs when it stops leading (stop the relay): `lost` when the lock went with its connection, `stopped` on stop(). */
  onDeposed: (why: 'lost' | 'stopped') => Promise<void>;
  clock?: Clock;
  /** Relays of different deployments on one database need different names. */
  name?: string;
  onError?: (error: unknown) => void;
}

/**
 * One active relay at a time, through a PostgreSQL session-level advisory lock held on a
 * connection of its own. The lock is the session's: if the leader dies (even kill -9) or its
 * connection breaks, PostgreSQL releases it at once, and a standby takes it at its next try,
 * within `electionMs`. Two relays overlapping for a moment is harmless (events are applied
 * idempotently), so the lock is about not doing the work twice, not about correctness.
 */
export class RelayLeader {
  private client: pg.Client | undefined;
  private timer: Timer | undefined;
  private leading = false;
  private stopped = true;
  private readonly clock: Clock;
  private readonly name: string;
  private attempt: Promise<void> = Promise.resolve();
  /** onDeposed after a lost connection, still running: the next onElected waits for it. */
  private deposing: Promise<void> = Promise.resolve();

  constructor(private readonly options: RelayLeaderOptions) {
    this.clock = options.clock ?? systemClock;
    this.name = options.name ?? 'freshcache relay';
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts campaigning; resolves after the first try (leader or standby). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.tryNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.attempt;
    await this.deposing;
    const client = this.client;
    this.client = undefined;
    if (this.leading) {
      this.leading = false;
      await this.options.onDeposed('stopped');
    }
    // Closing the session releases the lock for the standbys.
    await client?.end().catch(() => {});
  }

  private tryNow(): Promise<void> {
    this.attempt = this.campaign().catch((error: unknown) => this.options.onError?.(error));
    return this.attempt;
  }

  private async campaign(): Promise<void> {
    if (this.stopped) return;
    try {
      const client = await this.connection();
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [this.name]);
      if (rows[0]?.locked && !this.stopped) {
        // Elected again after a lost connection: the relay must have stopped before it restarts.
        await this.deposing;
        // Stopped meanwhile (stop() ends the session, and the lock with it), or the session was
        // lost again (which scheduled the next campaign).
        if (this.stopped || this.client !== client) return;
        this.leading = true;
        try {
          await this.options.onElected();
        } catch (error) {
          // It could not start relaying: give the lock back so that a standby (or this process,
          // at its next try) can. Session locks are re-entrant, so keeping it would block all.
          this.leading = false;
          await client.query('SELECT pg_advisory_unlock(hashtext($1))', [this.name]).catch(() => {});
          throw error;
        }
        return; // leading until the connection is lost
      }
    } catch (error) {
      this.options.onError?.(error);
    }
    this.schedule();
  }

  private schedule(): void {
    this.timer?.cancel();
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.tryNow(), this.options.electionMs);
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    // Bounded, so that a black-holed origin cannot hold a campaign (or stop()) for ever.
    const client = new pg.Client({ connectionString: this.options.connectionString, connectionTimeoutMillis: 5_000 });
    const lost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end().catch(() => {});
      if (error) this.options.onError?.(error);
      if (this.leading) {
        // The session is gone and the lock with it: someone else may lead already.
        this.leading = false;
        this.deposing = this.options.onDeposed('lost').catch((e: unknown) => this.options.onError?.(e));
      }
      this.schedule();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    this.client = client;
    return client;
  }
}
