import { useCallback, useEffect, useRef, useState } from 'react';
import type { ContentRecord } from '../../api/types';
import { useApi, useEvent, useResync } from '../../lib/api-context';

export interface ContentList {
  items: ContentRecord[];
  hasMore: boolean;
  loading: boolean;
  error: Error | undefined;
  loadMore: () => void;
  /** Shows a record this page created or changed, without waiting for its event. */
  upsert: (record: ContentRecord) => void;
  remove: (id: number) => void;
}

/**
 * Inserts or replaces by id, keeping the list in id order (the order the API pages in). An older
 * version never replaces a newer one: an event can arrive after the answer to the same write.
 */
function upsertById(items: ContentRecord[], records: ContentRecord[]): ContentRecord[] {
  const byId = new Map(items.map((item) => [item.id, item]));
  for (const record of records) {
    const known = byId.get(record.id);
    if (!known || known.version <= record.version) byId.set(record.id, record);
  }
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** A change this page saw, from an event or from its own write. */
type Change = { op: 'upsert'; record: ContentRecord } | { op: 'delete'; id: number };

function applyChange(items: ContentRecord[], change: Change): ContentRecord[] {
  return change.op === 'delete' ? items.filter((item) => item.id !== change.id) : upsertById(items, [change.record]);
}

/**
 * The origin's content, a page at a time ("Load more" follows the cursor). Kept current by
 * 'content.changed' events; after the event stream reconnects it starts again from the first page.
 * A page's answer can be older than the changes seen while it was on its way (a delete, a newer
 * version): they are applied again on top of it, so that it does not undo them.
 */
export function useContentList(pageSize = 25): ContentList {
  const api = useApi();
  const [items, setItems] = useState<ContentRecord[]>([]);
  const [cursor, setCursor] = useState<number | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<Error>();
  // A reload drops the answer of a "Load more" still on its way: it belongs to the old list.
  const generation = useRef(0);
  // For each load on its way, the changes seen since it started, in order.
  const inFlight = useRef(new Set<Change[]>());

  const change = useCallback((next: Change) => {
    for (const seen of inFlight.current) seen.push(next);
    setItems((current) => applyChange(current, next));
  }, []);

  // Asks for the page after `from` (undefined: the first page); the caller shows it as loading.
  const fetchPage = useCallback(
    (from: number | undefined) => {
      const mine = from === undefined ? ++generation.current : generation.current;
      const seen: Change[] = [];
      inFlight.current.add(seen);
      api.listContent({ cursor: from, limit: pageSize }).then(
        (page) => {
          inFlight.current.delete(seen);
          if (mine !== generation.current) return;
          // The first page starts the list again (what was deleted while the stream was away goes).
          setItems((current) => seen.reduce(applyChange, upsertById(from === undefined ? [] : current, page.items)));
          setCursor(page.cursor);
          setError(undefined);
          setLoading(false);
        },
        (failure: unknown) => {
          inFlight.current.delete(seen);
          if (mine !== generation.current) return;
          setError(failure as Error);
          setLoading(false);
        },
      );
    },
    [api, pageSize],
  );
  const load = (from: number | undefined) => {
    setLoading(true);
    fetchPage(from);
  };

  // The first page, on mount and for a new source. A new source starts out loading, from the
  // render that brings it (loading is already true on mount).
  const [source, setSource] = useState({ api, pageSize });
  if (source.api !== api || source.pageSize !== pageSize) {
    setSource({ api, pageSize });
    setLoading(true);
  }
  useEffect(() => fetchPage(undefined), [fetchPage]);
  useResync(() => load(undefined));
  useEvent('content.changed', ({ op, id, record }) => {
    if (op === 'delete') change({ op, id });
    else if (record) change({ op: 'upsert', record });
  });

  return {
    items,
    hasMore: cursor !== null,
    loading,
    error,
    loadMore: () => cursor !== null && load(cursor),
    upsert: (record) => change({ op: 'upsert', record }),
    remove: (id) => change({ op: 'delete', id }),
  };
}
