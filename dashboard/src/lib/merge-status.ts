import type { EventMap, InvalidationStatus } from '../api/types';

const settled = (apply: InvalidationStatus['regions'][string]) => apply.appliedAt !== null;

/**
 * One invalidation as known from two sources (the purge answer, a list fetch, an event) that can
 * arrive in any order: the POST's answer may come after the first `invalidation.applied`, and a
 * reload after a reconnect may be older than the events since. A region that applied stays
 * applied, with the first time it was seen (as the server keeps it). Complete once every region
 * either names applied it: an event's `complete` counts only the regions its process serves.
 */
export function mergeStatus(known: InvalidationStatus | undefined, incoming: InvalidationStatus): InvalidationStatus {
  if (!known) return incoming;
  const regions = { ...known.regions };
  for (const [name, apply] of Object.entries(incoming.regions)) {
    const current = regions[name];
    if (!current || !settled(current)) regions[name] = apply;
  }
  return {
    ...known,
    ...incoming,
    regions,
    complete: Object.keys(regions).length > 0 && Object.values(regions).every(settled),
  };
}

/** An `invalidation.applied` payload is the whole status plus the region that applied it. */
export function statusOfApplied({ region: _region, ...status }: EventMap['invalidation.applied']): InvalidationStatus {
  return status;
}
