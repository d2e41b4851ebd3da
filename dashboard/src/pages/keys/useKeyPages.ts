import { useCallback, useEffect, useState } from 'react';
import type { ApiClient } from '../../api/client';
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

/** What is asked for; a new object asks again (a reload, or the same search submitted again). */
interface Position {
  search: KeySearch;
  /** The cursor each page seen so far was asked with (undefined: the first page); Previous pops one. */
  cursors: (string | undefined)[];
}

/** The latest answer, and the position (and client) it answers: until they match the current ones, it is loading. */
interface Answer {
  position?: Position;
  api?: ApiClient;
  page?: CachePage;
  error?: Error;
}

/** The key explorer, one page at a time: Next follows the page's cursor, Previous goes back through the cursors seen. */
export function useKeyPages(): KeyPages {
  const api = useApi();
  const [position, setPosition] = useState<Position>({ search: INITIAL_SEARCH, cursors: [undefined] });
  const [answer, setAnswer] = useState<Answer>({});

  useEffect(() => {
    // An answer for a position the user already left must not replace the newer one.
    let current = true;
    api.listKeys(keyQuery(position.search, position.cursors.at(-1))).then(
      (page) => current && setAnswer({ position, api, page }),
      (error: unknown) => current && setAnswer({ position, api, error: error as Error }),
    );
    return () => {
      current = false;
    };
  }, [api, position]);

  // The page (or error) shown stays while the next answer is on its way.
  const loading = answer.position !== position || answer.api !== api;
  const reload = useCallback(() => setPosition((p) => ({ ...p })), []);
  useResync(reload);

  const cursor = answer.page?.cursor;
  return {
    search: position.search,
    page: answer.page,
    number: position.cursors.length,
    loading,
    error: answer.error,
    run: (search) => setPosition({ search, cursors: [undefined] }),
    next: () => {
      if (cursor) setPosition((p) => ({ ...p, cursors: [...p.cursors, cursor] }));
    },
    previous: () => setPosition((p) => (p.cursors.length > 1 ? { ...p, cursors: p.cursors.slice(0, -1) } : p)),
    reload,
  };
}
