import { useCallback, useMemo, useState } from 'react';
import type { InvalidationStatus } from '../../api/types';
import { useApi, useAsync, useEvent } from '../../lib/api-context';
import { mergeStatus, statusOfApplied } from '../../lib/merge-status';
import { useStatusPoll } from '../../lib/useStatusPoll';
import { usePolling } from '../../lib/usePolling';

/** How often the list is asked for again while an invalidation in it is still in progress. */
export const HISTORY_POLL_MS = 2_000;

export interface InvalidationHistory {
  /** Newest first, at most `limit`. */
  items: InvalidationStatus[];
  error: Error | undefined;
  loading: boolean;
  /**
   * Adds a status learnt elsewhere (the answer of a purge) as if an event had brought it, and
   * follows it: the server is asked about it until every region applied it.
   */
  record: (status: InvalidationStatus) => void;
}

function newest(statuses: Iterable<InvalidationStatus>, limit: number): InvalidationStatus[] {
  return [...statuses].sort((a, b) => b.id - a.id).slice(0, limit);
}

/**
 * The latest invalidations, live: fetched with `GET /api/invalidations` (again after the event
 * stream reconnects, through useAsync), with the statuses the events brought since laid over the
 * fetched ones. Events are kept apart from the fetch so that a reload does not lose them and they
 * do not lose a reload. A process has events only for the regions it serves: the invalidations
 * recorded here (this page's purges) are also asked about until every region applied them, and
 * the list is fetched again while one it shows is in progress (the server tells the other
 * regions from their nodes).
 */
export function useInvalidationHistory(limit = 50): InvalidationHistory {
  const api = useApi();
  const fetched = useAsync(useCallback(() => api.invalidations(limit), [api, limit]));
  const [live, setLive] = useState<InvalidationStatus[]>([]);

  // The ids of the purges recorded here: only these are asked about, not every one listed.
  const [followed, setFollowed] = useState<ReadonlySet<number>>(new Set());

  const lay = useCallback(
    (status: InvalidationStatus) =>
      setLive((statuses) => {
        const known = statuses.find((s) => s.id === status.id);
        const others = statuses.filter((s) => s.id !== status.id);
        return newest([...others, known ? mergeStatus(known, status) : status], limit);
      }),
    [limit],
  );
  useEvent('invalidation.published', lay);
  useEvent('invalidation.applied', (payload) => lay(statusOfApplied(payload)));

  const record = useCallback(
    (status: InvalidationStatus) => {
      lay(status);
      setFollowed((ids) => new Set(ids).add(status.id));
    },
    [lay],
  );

  const items = useMemo(() => {
    const byId = new Map((fetched.data ?? []).map((status) => [status.id, status]));
    for (const status of live) {
      const known = byId.get(status.id);
      byId.set(status.id, known ? mergeStatus(known, status) : status);
    }
    return newest(byId.values(), limit);
  }, [fetched.data, live, limit]);
  useStatusPoll(items.filter((status) => followed.has(status.id)), lay);
  usePolling(() => (items.some((status) => !status.complete) ? fetched.reload() : undefined), HISTORY_POLL_MS);

  return { items, error: fetched.error, loading: fetched.loading && !fetched.data, record };
}
