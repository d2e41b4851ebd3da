import { useCallback, useRef, useState } from 'react';
import type { EventMap, InvalidationStatus } from '../../api/types';
import { useApi, useEvent, useResync } from '../../lib/api-context';
import { mergeStatus, statusOfApplied } from '../../lib/merge-status';
import { useStatusPoll } from '../../lib/useStatusPoll';

type Applied = EventMap['invalidation.applied'];

const applied = (status: InvalidationStatus | undefined, region: string) => status?.regions[region]?.appliedAt != null;

/**
 * The invalidations this page published, kept current by 'invalidation.applied' events, by
 * asking the server until every region applied them (a process has events only for the regions
 * it serves), and by asking after the event stream reconnects (the events sent meanwhile are
 * lost); `onApplied(region)` runs as each region applies one. An event can beat the POST's
 * answer (a region with no delay), so events arriving between `begin` and `end` are held until
 * `add` learns their id.
 */
export function useInvalidationTracker(onApplied: (region: string) => void) {
  const api = useApi();
  const [statuses, setStatuses] = useState<InvalidationStatus[]>([]);
  const [error, setError] = useState<Error>();
  // What is known of each, by id: read by the event listener, which may run before a re-render
  // shows the newest state.
  const known = useRef(new Map<number, InvalidationStatus>());
  const early = useRef<Applied[] | undefined>(undefined);

  /** Lays `incoming` over what is known of an invalidation this page follows; returns the regions it newly shows applied. */
  const learn = useCallback((incoming: InvalidationStatus): string[] => {
    const before = known.current.get(incoming.id);
    if (!before) return [];
    const after = mergeStatus(before, incoming);
    known.current.set(after.id, after);
    setStatuses([...known.current.values()]);
    return Object.keys(after.regions).filter((region) => applied(after, region) && !applied(before, region));
  }, []);

  useEvent('invalidation.applied', (event) => {
    early.current?.push(event);
    learn(statusOfApplied(event)).forEach(onApplied);
  });

  // Where no event comes (a region this process does not serve), the server's answer brings it.
  useStatusPoll(statuses, (status) => learn(status).forEach(onApplied));

  // Events sent while the stream was away are lost: ask where each invalidation stands. No
  // `onApplied` for what applied meanwhile: the page reloads its keys after a reconnect anyway.
  useResync(() => {
    for (const id of known.current.keys()) {
      api.invalidation(id).then(learn, (failure: unknown) => setError(failure as Error));
    }
  });

  /** Forgets the previous invalidations and starts holding events for the coming ones. */
  const begin = useCallback(() => {
    known.current = new Map();
    early.current = [];
    setStatuses([]);
    setError(undefined);
  }, []);

  const add = useCallback(
    (status: InvalidationStatus) => {
      const before = (early.current ?? []).filter((event) => event.id === status.id);
      known.current.set(
        status.id,
        before.reduce<InvalidationStatus>((merged, event) => mergeStatus(merged, statusOfApplied(event)), status),
      );
      setStatuses([...known.current.values()]);
      for (const event of before) onApplied(event.region);
    },
    [onApplied],
  );

  const end = useCallback(() => {
    early.current = undefined;
  }, []);

  /** A status that could not be asked for after a reconnect. */
  const dismissError = useCallback(() => setError(undefined), []);

  return { statuses, error, dismissError, begin, add, end };
}
