import type { RowChange } from './row-change.js';

/**
 * Where a feed hands its changes. Both methods are awaited: the feed advances its durable
 * position only after they resolved, and a rejection makes it deliver the same changes again.
 */
export interface ChangeSink {
  /** Committed row changes of the captured tables, in commit order; a transaction never spans two calls. */
  changes(batch: RowChange[]): Promise<void>;
  /**
   * Changes were lost before the feed could hand them over (a replication slot that was dropped
   * or invalidated): anything cached may be stale. Called before any later change is handed over.
   */
  lost(reason: string): Promise<void>;
}

/**
 * The origin's row changes for a set of tables, in commit order, at least once. The feed
 * remembers its position durably and advances it only after the sink resolved, so a crash
 * between reading and publishing replays the changes instead of losing them.
 */
export interface ChangeFeed {
  start(sink: ChangeSink): Promise<void>;
  stop(): Promise<void>;
  /** Position acknowledged so far. */
  position(): Promise<number>;
}
