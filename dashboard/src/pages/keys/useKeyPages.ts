import { useCallback, useEffect, useState } from 'react';
import type { CachePage } from '../../api/types';
import { useApi, useResync } from '../../lib/api-context';
import { INITIAL_SEARCH, keyQuery } from './key-search';
import type { KeySearch } from './key-search';

export interface KeyPages {
  search: KeySearch;
  /** The page for the current search and position; undefined before its first answer or after an error. */
  page: CachePage | undefined;
  /** 1 for the first page. */
  number: number;
  loading: boolean;
  error: Error | undefined;
  /** Starts `search` from its first page (submitting the same search again reloads it). */
  run: (search: KeySearch) => void;
  next: () => void;
  previous: () => void;
  reload: () => void;
}

interface Position {
  search: KeySearch;
  /** The cursor each page seen so far was asked with (undefined: the first page); Previous pops one. */
  cursors: (string | undefined)[];
}

/** The key explorer, one page at a time: Next follows the page's cursor, Previous goes back through the cursors seen. */
export function useKeyPages(): KeyPages {
  const api = useApi();
  const [position, setPosition] = useState<Position>({ search: INITIAL_SEARCH, cursors: [undefined] });
  const [reloads, setReloads] = useState(0);
  const [answer, setAnswer] = useState<{ page?: CachePage; error?: Error; loading: boolean }>({ loading: true });

  useEffect(() => {
    // An answer for a position the user already left must not replace the newer one.
    let current = true;
    setAnswer((a) => ({ ...a, loading: true }));
    api.listKeys(keyQuery(position.search, position.cursors.at(-1))).then(
      (page) => current && setAnswer({ page, loading: false }),
      (error: unknown) => current && setAnswer({ error: error as Error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [api, position, reloads]);

  const reload = useCallback(() => setReloads((n) => n + 1), []);
  useResync(reload);

  const cursor = answer.page?.cursor;
  return {
    search: position.search,
    page: answer.page,
    number: position.cursors.length,
    loading: answer.loading,
    error: answer.error,
    run: (search) => setPosition({ search, cursors: [undefined] }),
    next: () => {
      if (cursor) setPosition((p) => ({ ...p, cursors: [...p.cursors, cursor] }));
    },
    previous: () => setPosition((p) => (p.cursors.length > 1 ? { ...p, cursors: p.cursors.slice(0, -1) } : p)),
    reload,
  };
}
