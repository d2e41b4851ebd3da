/** One committed change at the origin, as the change feed reports it. */
export interface Change {
  /** Feed position (outbox id or LSN); the feed acknowledges positions in order. */
  position: number;
  contentId: number;
  op: 'insert' | 'update' | 'delete';
  /** Tags before and after the change: both sets of cached views are affected. */
  tags: string[];
  version: number;
  committedAt: number;
}

/**
 * The origin's changes, in commit order, at least once. The feed remembers its position durably
 * and advances it only after the handler resolves, so a crash between reading and publishing
 * replays the changes instead of losing them.
 */
export interface ChangeFeed {
  start(onChanges: (changes: Change[]) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
  /** Position acknowledged so far. */
  position(): Promise<number>;
}
