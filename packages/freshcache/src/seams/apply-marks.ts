/**
 * Where each node of a deployment says how far it applied the invalidation log: high-water marks,
 * each a log position and the time the node reached it. A node writes one at most every 100 ms
 * (ApplyMarkReporter), not one per event, which at 20,000 changes/s would cost each node 20,000
 * writes/s. A node applied event N at the time of its first mark at or above N: late by at most
 * the reporting interval, never early.
 */
export interface ApplyMark {
  node: string;
  region: string;
  /** The newest log position the node had applied. */
  position: number;
  /** When it had applied it (its clock, ms since the epoch). */
  at: number;
}

export interface ApplyMarks {
  /** Records a node's mark for one region it serves. Marks of a node and region come in position order. */
  report(mark: ApplyMark): Promise<void>;
  /**
   * For each node and region that reported: its first mark at or above `position` (when it
   * applied it), or `at: null` when it has not reported reaching it yet.
   */
  appliedAt(position: number): Promise<{ node: string; region: string; at: number | null }[]>;
  /** Forgets a node (it left the deployment). */
  forget(node: string): Promise<void>;
  close(): Promise<void>;
}

/** Marks kept per node: at 10 marks/s, the last 100 s. Older events show no apply time. */
export const MARKS_KEPT = 1000;
