/**
 * The engine's two clocks, as distinct types so that one is never taken for the other:
 * - `LocalSeq`: this cache's own sequence, one step per invalidation it applied. Entries of L1
 *   and of a private L2 are dated in it; it means nothing to another process.
 * - `LogPosition`: an invalidation log event's id. Every node applies the same events in the
 *   same order, so entries of a shared L2 are dated in it (EntryDating converts).
 */
export type LocalSeq = number & { readonly __clock: 'local sequence' };
export type LogPosition = number & { readonly __clock: 'log position' };

export const localSeq = (n: number): LocalSeq => n as LocalSeq;
export const logPosition = (n: number): LogPosition => n as LogPosition;
