import type { CacheItem } from '../../api/types';
import { toCsv } from '../../lib/csv';

export const KEYS_CSV_HEADER = ['key', 'region', 'tier', 'state', 'version', 'tags', 'ageMs', 'ttlMs', 'size'];

/** The CSV export of listed keys: one row per entry, its tags joined with spaces (a tag has none). */
export function keysCsv(region: string, items: readonly CacheItem[]): string {
  return toCsv(
    KEYS_CSV_HEADER,
    items.map((item) => [item.key, region, item.tier, item.state, item.version, item.tags.join(' '), item.ageMs, item.ttlMs, item.size]),
  );
}
