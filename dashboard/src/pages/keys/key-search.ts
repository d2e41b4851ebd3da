export type SearchMode = 'prefix' | 'tag';

/** A search as submitted: what the table pages through and the CSV export collects. */
export interface KeySearch {
  /** '' lets the server choose: it lists its first configured region. */
  region: string;
  mode: SearchMode;
  text: string;
  limit: number;
}

export const PAGE_SIZES = [25, 50, 100, 250, 1000] as const;

export const INITIAL_SEARCH: KeySearch = { region: '', mode: 'prefix', text: '', limit: 50 };

/** The query of `GET /api/cache` for one page of `search` (empty fields are left out by the client). */
export function keyQuery(search: KeySearch, cursor: string | undefined, limit = search.limit) {
  return {
    region: search.region,
    prefix: search.mode === 'prefix' ? search.text : undefined,
    tag: search.mode === 'tag' ? search.text : undefined,
    cursor,
    limit,
  };
}
