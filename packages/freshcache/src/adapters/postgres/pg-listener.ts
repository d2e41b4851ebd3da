import pg from 'pg';
import type { Clock, Timer } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import { pgFailure } from './pg-unavailable.js';

export interface PgListenerOptions {
  connectionString: string;
  channel: string;
  /** Every NOTIFY on the channel, and once after each reconnect (notifications sent meanwhile are lost). */
  onNotify: () => void;
  /** A lost connection or a failed reconnect; the listener keeps trying until close(). */
  onError?: (error: unknown) => void;
  clock?: Clock;
  /** First reconnect delay; it doubles on each failure in a row, up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
}

/** Bounded, so that a black-holed server cannot hold a reconnect (or close()) for ever. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * LISTEN on a connection of its own, which comes back by itself. A session's LISTEN dies with
 * it (a PostgreSQL restart, a terminated backend), and pg reports that as an 'error' event that
 * would crash the process without a listener: here it reconnects with a backoff and LISTENs
 * again, then calls `onNotify` once, since any NOTIFY sent in between is lost.
 */
export class PgListener {
  private readonly clock: Clock;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private readonly onError: (error: unknown) => void;
  private client: pg.Client | undefined;
  private retryTimer: Timer | undefined;
  private failures = 0;
  private closed = false;
  /** The connection being made, so that close() waits for it instead of leaking it. */
  private connecting: Promise<void> = Promise.resolve();

  constructor(private readonly options: PgListenerOptions) {
    this.clock = options.clock ?? systemClock;
    this.retryMs = options.retryMs ?? 100;
    this.maxRetryMs = options.maxRetryMs ?? 5_000;
    this.onError = options.onError ?? (() => {});
  }

  /** Rejects if the first connection fails: a caller that cannot listen should know at once. */
  async start(): Promise<void> {
    this.connecting = this.connect();
    try {
      await this.connecting;
    } catch (error) {
      throw pgFailure(`LISTEN ${this.options.channel}`, error);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.retryTimer?.cancel();
    await this.connecting.catch(() => {});
    const client = this.client;
    this.client = undefined;
    // Ending the session ends its LISTEN too: no UNLISTEN round trip needed.
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    const lost = (error: unknown) => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end().catch(() => {});
      this.onError(error);
      this.schedule();
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error(`PgListener: the LISTEN connection for "${this.options.channel}" ended`)));
    client.on('notification', (message) => {
      if (message.channel === this.options.channel) this.options.onNotify();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.options.channel)}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.failures = 0;
  }

  private schedule(): void {
    if (this.closed) return;
    const delay = Math.min(this.maxRetryMs, this.retryMs * 2 ** this.failures++);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed) return;
      this.connecting = this.connect().then(
        () => {
          if (!this.closed) this.options.onNotify();
        },
        (error: unknown) => {
          this.onError(error);
          this.schedule();
        },
      );
    }, delay);
  }
}
