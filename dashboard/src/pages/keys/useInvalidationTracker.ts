import { useCallback, useRef, useState } from 'react';
import type { EventMap, InvalidationStatus } from '../../api/types';
import { useEvent } from '../../lib/api-context';
import { mergeStatus, statusOfApplied } from '../../lib/merge-status';

type Applied = EventMap['invalidation.applied'];

/**
 * The invalidations this page published, kept current by 'invalidation.applied' events;
 * `onApplied(region)` runs as each region applies one. An event can beat the POST's answer (a
 * region with no delay), so events arriving between `begin` and `end` are held until `add`
 * learns their id.
 */
export function useInvalidationTracker(onApplied: (region: string) => void) {
  const [statuses, setStatuses] = useState<InvalidationStatus[]>([]);
  // Read by the event listener, which may run before a re-render shows the newest state.
  const ids = useRef(new Set<number>());
  const early = useRef<Applied[] | undefined>(undefined);

  useEvent('invalidation.applied', (event) => {
    early.current?.push(event);
    if (!ids.current.has(event.id)) return;
    setStatuses((list) => list.map((status) => (status.id === event.id ? mergeStatus(status, statusOfApplied(event)) : status)));
    onApplied(event.region);
  });

  /** Forgets the previous invalidations and starts holding events for the coming ones. */
  const begin = useCallback(() => {
    ids.current = new Set();
    early.current = [];
    setStatuses([]);
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

  return { statuses, begin, add, end };
}
