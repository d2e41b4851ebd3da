import type { CaptureRule } from 'freshcache';

/**
 * What a change of the demo's `content` table invalidates: the article's own key, and the tag
 * list views it was in before or is in after the change, through their `list:<tag>` tags (`tags`
 * is a text[] column: one target per element). Articles that merely share a tag stay cached: an
 * article entry carries its plain tags (`news`) for operators' purges, which no change targets.
 * A truncate purges the `content:` and `content-list:` prefixes. Events carry the row's `version`.
 */
export const CONTENT_CAPTURE_RULES: CaptureRule[] = [
  { table: 'content', key: 'content:{id}', tags: ['list:{tags}'], version: 'version', onTruncate: { prefixes: ['content-list:'] } },
];

export const CONTENT_TABLES = ['public.content'];
