import { useCallback, useRef, useState } from 'react';
import type { InvalidationStatus } from '../../api/types';
import { useApi, useEvent, useResync } from '../../lib/api-context';
import { mergeStatus } from '../../lib/merge-status';
import { useStatusPoll } from '../../lib/useStatusPoll';

/** How many recent invalidations are kept to match against: an event can beat the answer to the request that caused it. */
const REMEMBERED = 100;

export interface Followed {
  /** What the user did, e.g. "Edit of article-1". */
  label: string;
  /** Undefined until its invalidation is published. */
  status: InvalidationStatus | undefined;
}

export interface InvalidationFollower {
  followed: Followed | undefined;
  error: Error | undefined;
  /** The user acted: show `label`, waiting for the invalidation it causes. */
  begin: (label: string) => void;
  /** The invalidation to follow is the one `matches` picks, among the recent ones too; `known` is what the server answered. */
  follow: (matches: (status: InvalidationStatus) => boolean, known?: InvalidationStatus) => void;
  /** The action failed: there is nothing to follow. */
  forget: () => void;
}

/** What a followed invalidation made elsewhere is called: its source and targets. */
export function describeInvalidation(status: InvalidationStatus): string {
  const targets = [...status.keys, ...status.tags.map((t) => `tag ${t}`), ...status.prefixes.map((p) => `prefix ${p}*`)];
  const what = status.source === 'cdc' ? 'A change at the origin' : status.source === 'write' ? 'A write' : 'A purge';
  return `${what} (${targets.join(', ') || 'nothing'})`;
}

/**
 * Follows one invalidation through the regions, from 'invalidation.published' and
 * 'invalidation.applied' events, and from the server until every region applied it (a process
 * has events only for the regions it serves) and after a reconnect: the one the user's
 * latest action caused or, with `followAll`, the latest one published by anyone (a change
 * made in SQL, another user, the workload).
 */
export function useInvalidationFollower(followAll = false): InvalidationFollower {
  const api = useApi();
  const recent = useRef(new Map<number, InvalidationStatus>());
  const matcher = useRef<(status: InvalidationStatus) => boolean>(undefined);
  const [followed, setFollowed] = useState<Followed>();
  const [error, setError] = useState<Error>();

  const remember = useCallback((next: InvalidationStatus): InvalidationStatus => {
    const merged = mergeStatus(recent.current.get(next.id), next);
    recent.current.set(next.id, merged);
    if (recent.current.size > REMEMBERED) recent.current.delete(recent.current.keys().next().value!);
    return merged;
  }, []);

  const show = useCallback((status: InvalidationStatus) => {
    // Once found, it is this invalidation by id (a later edit of the same article is another one).
    matcher.current = (s) => s.id === status.id;
    setFollowed((current) => current && { ...current, status });
  }, []);

  const receive = (payload: InvalidationStatus & { region?: string }) => {
    const { region: _region, ...status } = payload;
    const merged = remember(status);
    if (matcher.current?.(merged)) show(merged);
  };
  useEvent('invalidation.published', (status) => {
    if (followAll) {
      matcher.current = (s) => s.id === status.id;
      setFollowed({ label: describeInvalidation(status), status: undefined });
    }
    receive(status);
  });
  useEvent('invalidation.applied', receive);
  // Where no event comes (a region this process does not serve), the server's answer brings it.
  useStatusPoll([followed?.status], receive);
  // Events were missed while the stream was away: ask the server where the followed one stands
  // (or, while still waiting for it to be published, for the latest ones to find it among).
  useResync(() => {
    if (!followed) return;
    const id = followed.status?.id;
    const load = id !== undefined ? api.invalidation(id).then((status) => [status]) : api.invalidations(50);
    load.then(
      (statuses) => statuses.reverse().forEach(receive),
      (failure: unknown) => setError(failure as Error),
    );
  });

  const begin = useCallback((label: string) => {
    matcher.current = undefined;
    setError(undefined);
    setFollowed({ label, status: undefined });
  }, []);

  const follow = useCallback(
    (matches: (status: InvalidationStatus) => boolean, known?: InvalidationStatus) => {
      matcher.current = matches;
      if (known) remember(known);
      const found = [...recent.current.values()].reverse().find(matches);
      if (found) show(found);
    },
    [remember, show],
  );

  const forget = useCallback(() => {
    matcher.current = undefined;
    setFollowed(undefined);
  }, []);

  return { followed, error, begin, follow, forget };
}
