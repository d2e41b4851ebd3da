import { useRef } from 'react';
import type { InvalidationStatus } from '../api/types';
import { usePolling } from './usePolling';
import { useApi } from './api-context';
import { useInfo } from './info-context';

/** How often a followed invalidation that some region has not applied yet is asked about. */
export const STATUS_POLL_MS = 500;
/** At most this many asks per invalidation (30 s): a region whose nodes are all down never applies it. */
export const STATUS_POLLS = 60;

/**
 * Whether every region applied `status`: those the deployment declares (`/api/info`) and any the
 * status names. Not the status's `complete`: an event only knows the regions its process serves.
 */
export function appliedEverywhere(status: InvalidationStatus, configured: readonly string[] = []): boolean {
  const names = new Set([...configured, ...Object.keys(status.regions)]);
  return names.size > 0 && [...names].every((name) => status.regions[name]?.appliedAt != null);
}

/**
 * Asks `GET /api/invalidations/:id` every STATUS_POLL_MS about each of `followed` that some region
 * has not applied yet, and hands each answer to `onStatus`. A process emits
 * 'invalidation.applied' only for the regions it serves (the control process of `freshcache up`
 * serves none); the server's status takes the other regions from their nodes' apply marks. Where
 * the events come, they stay the fast path: the answers only add what they missed.
 */
export function useStatusPoll(followed: readonly (InvalidationStatus | undefined)[], onStatus: (status: InvalidationStatus) => void): void {
  const api = useApi();
  const configured = useInfo()?.regions;
  const asked = useRef(new Map<number, number>());
  usePolling(() => {
    const due = followed.filter(
      (status): status is InvalidationStatus => !!status && !appliedEverywhere(status, configured) && (asked.current.get(status.id) ?? 0) < STATUS_POLLS,
    );
    if (due.length === 0) return undefined;
    for (const { id } of due) asked.current.set(id, (asked.current.get(id) ?? 0) + 1);
    // A failed ask is retried by the next tick; the events and the bound do the rest.
    return Promise.all(due.map(({ id }) => api.invalidation(id).then(onStatus, () => undefined)));
  }, STATUS_POLL_MS);
}
