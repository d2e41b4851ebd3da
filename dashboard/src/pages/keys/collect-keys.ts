import type { ApiClient } from '../../api/client';
import type { CacheItem } from '../../api/types';
import { keyQuery } from './key-search';
import type { KeySearch } from './key-search';

/** The most the API returns in one page. */
const MAX_PAGE = 1000;

export interface CollectedKeys {
  region: string;
  items: CacheItem[];
  /** The search has keys beyond these: the cap was reached or the collection was aborted. */
  more: boolean;
}

/**
 * Every key of `search`, following cursors until the last page, at most `cap` of them. Pages can
 * be short or empty and still carry a cursor (a tag filter that matches few keys), so only a
 * null cursor ends the search. A key can come back on a later page (a walk of Redis lists each
 * key at least once): it is kept once. An API error rejects: a partial export would pass for a
 * whole one.
 */
export async function collectKeys(
  api: ApiClient,
  search: KeySearch,
  options: { cap: number; onProgress?: (rows: number) => void; signal?: AbortSignal },
): Promise<CollectedKeys> {
  const items: CacheItem[] = [];
  const seen = new Set<string>();
  let region = search.region;
  let cursor: string | undefined;
  do {
    if (options.signal?.aborted || items.length >= options.cap) return { region, items, more: true };
    const page = await api.listKeys(keyQuery(search, cursor, Math.min(MAX_PAGE, options.cap - items.length)));
    region = page.region;
    for (const item of page.items) {
      if (seen.has(item.key)) continue;
      seen.add(item.key);
      items.push(item);
    }
    options.onProgress?.(items.length);
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);
  return { region, items, more: false };
}
