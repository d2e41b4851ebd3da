import { useCallback, useRef, useState } from 'react';
import type { EventMap, InvalidationStatus } from '../../api/types';
import { useApi, useEvent, useResync } from '../../lib/api-context';
import { mergeStatus, statusOfApplied } from '../../lib/merge-status';

type Applied = EventMap['invalidation.applied'];

/**
 * The invalidations this page published, kept current by 'invalidation.applied' events, and by
 * asking the server after the event stream reconnects (the events sent meanwhile are lost);
 * `onApplied(region)` runs as each region applies one. An event can beat the POST's answer (a
 * region with no delay), so events arriving between `begin` and `end` are held until `add`
 * learns their id.
 */
export function useInvalidationTracker(onApplied: (region: string) => void) {
  const api = useApi();
  const [statuses, setStatuses] = useState<InvalidationStatus[]>([]);
  const [error, setError] = useState<Error>();
  // Read by the event listener, which may run before a re-render shows the newest state.
  const ids = useRef(new Set<number>());
  const early = useRef<Applied[] | undefined>(undefined);

  useEvent('invalidation.applied', (event) => {
    early.current?.push(event);
    if (!ids.current.has(event.id)) return;
    setStatuses((list) => list.map((status) => (status.id === event.id ? mergeStatus(status, statusOfApplied(event)) : status)));
    onApplied(event.region);
  });

  // Events sent while the stream was away are lost: ask where each invalidation stands. No
  // `onApplied` for what applied meanwhile: the page reloads its keys after a reconnect anyway.
  useResync(() => {
    for (const id of ids.current) {
      api.invalidation(id).then(
        (fetched) => setStatuses((list) => list.map((status) => (status.id === id ? mergeStatus(status, fetched) : status))),
        (failure: unknown) => setError(failure as Error),
      );
    }
  });

  /** Forgets the previous invalidations and starts holding events for the coming ones. */
  const begin = useCallback(() => {
    ids.current = new Set();
    early.current = [];
    setStatuses([]);
    setError(undefined);
  }, []);

  const add = useCallback(
    (status: InvalidationStatus) => {
      const before = (early.current ?? []).filter((event) => event.id === status.id);
      ids.current.add(status.id);
      setStatuses((list) => [...list, before.reduce<InvalidationStatus>((known, event) => mergeStatus(known, statusOfApplied(event)), status)]);
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
