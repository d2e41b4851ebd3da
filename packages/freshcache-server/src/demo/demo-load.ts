/**
 * What `freshcache load` does to the demo unless told otherwise: read a content record through a
 * region's cache, change it through the API (or in SQL), over the ids the demo holds.
 */
export const DEMO_READ_PATH = '/edge/{region}/content/{id}';
export const DEMO_WRITE_PATH = '/api/content/{id}';
export const DEMO_WRITE_SQL = 'UPDATE content SET body = $2 WHERE id = $1 RETURNING version';

/** The body of a write through the API: a new text, so each write is a change. */
export function demoWriteBody(sequence: number): string {
  return JSON.stringify({ body: `Written by freshcache load (${sequence})` });
}

/**
 * The ids of the demo's content when the target runs the demo (its `/api/content`, a page at a
 * time, through `get`, which answers undefined for anything but a 2xx JSON answer), so that a
 * load on the demo reads and writes rows that exist; undefined otherwise.
 */
export async function demoContentIds(origin: string, get: (url: string) => Promise<unknown>): Promise<number[] | undefined> {
  const ids: number[] = [];
  let cursor: number | null | undefined;
  do {
    const page = (await get(`${origin}/api/content?limit=500${cursor ? `&cursor=${cursor}` : ''}`)) as { items?: { id: number }[]; cursor?: number | null } | undefined;
    if (!Array.isArray(page?.items)) return undefined;
    for (const item of page.items) if (Number.isInteger(item?.id)) ids.push(item.id);
    cursor = page.cursor;
  } while (cursor && ids.length < 1_000_000);
  return ids.length > 0 ? ids : undefined;
}
