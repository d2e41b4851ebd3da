import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../../api/client';
import type { CacheItem, CacheLookup } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Panel } from '../../components/Panel';
import { useApi } from '../../lib/api-context';
import { formatBytes, formatMs } from '../../lib/format';

/** What the detail shows: the entry as listed, or as `GET /api/cache/:key` last read it. */
function entryOf(item: CacheItem, lookup: CacheLookup | undefined) {
  if (!lookup) return { ...item, ttlMs: item.ttlMs as number | undefined };
  // The lookup has no TTL: the listing's lifetime still holds while the entry is the one listed
  // (the same or a greater age); a newer entry has a lifetime this page does not know.
  const sameEntry = lookup.ageMs >= item.ageMs && lookup.version === item.version;
  return {
    ...item,
    value: lookup.value,
    version: lookup.version,
    tags: lookup.tags,
    tier: lookup.tier,
    state: lookup.state === 'HIT' ? ('fresh' as const) : ('stale' as const),
    ageMs: lookup.ageMs,
    ttlMs: sameEntry ? Math.max(0, item.ageMs + item.ttlMs - lookup.ageMs) : undefined,
  };
}

function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? String(value);
}

/** One entry of one region: its value as JSON and its metadata; Refresh reads it again from the cache. */
export function EntryDetail({ item, region, onClose }: { item: CacheItem; region: string; onClose: () => void }) {
  const api = useApi();
  const [lookup, setLookup] = useState<CacheLookup>();
  const [gone, setGone] = useState(false);
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  // The detail may open below the table (on a phone): take the focus there so it is not missed.
  useEffect(() => heading.current?.focus(), []);

  async function refresh() {
    setLoading(true);
    setError(undefined);
    try {
      setLookup(await api.getKey(item.key, region));
      setGone(false);
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 404) setGone(true);
      else setError(failure as Error);
    } finally {
      setLoading(false);
    }
  }

  const entry = entryOf(item, lookup);
  return (
    <Panel
      title="Entry"
      className="keys-detail"
      actions={
        <>
          <button type="button" onClick={() => void refresh()} disabled={loading}>
            {loading ? 'Refreshing…' : 'Refresh'}
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </>
      }
    >
      <h3 className="keys-detail-key" ref={heading} tabIndex={-1}>
        <code>{item.key}</code> <span className="muted">in {region}</span>
      </h3>
      <ErrorMessage error={error} onDismiss={() => setError(undefined)} />
      {gone ? (
        <p role="status">
          <strong>No longer cached</strong> in {region}: it was invalidated, evicted or has expired.
        </p>
      ) : (
        <>
          <dl className="keys-fields">
            <dt>State</dt>
            <dd>
              <span className={`badge ${entry.state}`}>{entry.state}</span>
            </dd>
            <dt>Tier</dt>
            <dd>{entry.tier.toUpperCase()}</dd>
            <dt>Version</dt>
            <dd>{entry.version ?? '—'}</dd>
            <dt>Tags</dt>
            <dd>{entry.tags.length === 0 ? '—' : entry.tags.join(', ')}</dd>
            <dt>Age</dt>
            <dd>{formatMs(entry.ageMs)}</dd>
            <dt>TTL left</dt>
            <dd>{formatMs(entry.ttlMs)}</dd>
            <dt>Size</dt>
            <dd>{formatBytes(entry.size)}</dd>
          </dl>
          <h4 className="keys-value-heading">Value</h4>
          {/* Focusable so that a keyboard can scroll a long value. */}
          <pre className="keys-value" tabIndex={0} aria-label={`Value of ${item.key}`}>
            {prettyJson(entry.value)}
          </pre>
        </>
      )}
    </Panel>
  );
}
