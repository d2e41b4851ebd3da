import type { CaptureRule } from 'freshcache';

/**
 * What a change of the demo's `content` table invalidates: the record's key and every tag it had
 * before or has after the change (`tags` is a text[] column, one tag per element). A truncate
 * purges the `content:` prefix. Events carry the record's `version`, which the dashboard shows.
 */
export const CONTENT_CAPTURE_RULES: CaptureRule[] = [{ table: 'content', key: 'content:{id}', tags: ['{tags}'], version: 'version' }];

export const CONTENT_TABLES = ['public.content'];
