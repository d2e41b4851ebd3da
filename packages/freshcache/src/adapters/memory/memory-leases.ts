import { randomUUID } from 'node:crypto';
import type { Clock } from '../../engine/clock.js';
import type { Entry } from '../../seams/entry.js';
import type { FillLeases } from '../../seams/store.js';

/** Fill leases for a memory store shared by several caches in one process (tests, the simulator). */
export class MemoryLeases implements FillLeases {
  private readonly held = new Map<string, { token: string; expiresAt: number }>();

  constructor(
    private readonly clock: Clock,
    /** Writes an entry without revoking the lease being filled. */
    private readonly write: (key: string, entry: Entry) => void,
  ) {}

  async acquire(key: string, ttlMs: number): Promise<string | undefined> {
    const holder = this.held.get(key);
    const now = this.clock.now();
    if (holder && holder.expiresAt > now) return undefined;
    const token = randomUUID();
    this.held.set(key, { token, expiresAt: now + ttlMs });
    return token;
  }

  async fill(key: string, token: string, entry: Entry): Promise<boolean> {
    if (!this.holds(key, token)) return false;
    this.held.delete(key);
    this.write(key, entry);
    return true;
  }

  async release(key: string, token: string): Promise<void> {
    if (this.holds(key, token)) this.held.delete(key);
  }

  /** A set or delete of the key: a fill read before it must not be written. */
  revoke(key: string): void {
    this.held.delete(key);
  }

  private holds(key: string, token: string): boolean {
    const holder = this.held.get(key);
    return holder !== undefined && holder.token === token && holder.expiresAt > this.clock.now();
  }
}
