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

/**
 * The origin's content, a page at a time ("Load more" follows the cursor). Kept current by
 * 'content.changed' events; after the event stream reconnects it starts again from the first page.
 */
export function useContentList(pageSize = 25): ContentList {
  const api = useApi();
  const [items, setItems] = useState<ContentRecord[]>([]);
  const [cursor, setCursor] = useState<number | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<Error>();
  // A reload drops the answer of a "Load more" still on its way: it belongs to the old list.
  const generation = useRef(0);

  const load = useCallback(
    (from: number | undefined) => {
      const mine = from === undefined ? ++generation.current : generation.current;
      setLoading(true);
      api.listContent({ cursor: from, limit: pageSize }).then(
        (page) => {
          if (mine !== generation.current) return;
          setItems((current) => upsertById(from === undefined ? [] : current, page.items));
          setCursor(page.cursor);
          setError(undefined);
          setLoading(false);
        },
        (failure: unknown) => {
          if (mine !== generation.current) return;
          setError(failure as Error);
          setLoading(false);
        },
      );
    },
    [api, pageSize],
  );

  useEffect(() => load(undefined), [load]);
  useResync(() => load(undefined));
  useEvent('content.changed', (change) => {
    if (change.op === 'delete') setItems((current) => current.filter((item) => item.id !== change.id));
    else if (change.record) {
      const record = change.record;
      setItems((current) => upsertById(current, [record]));
    }
  });

  return {
    items,
    hasMore: cursor !== null,
    loading,
    error,
    loadMore: () => cursor !== null && load(cursor),
    upsert: (record) => setItems((current) => upsertById(current, [record])),
    remove: (id) => setItems((current) => current.filter((item) => item.id !== id)),
  };
}
