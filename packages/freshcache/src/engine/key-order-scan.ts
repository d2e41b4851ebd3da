import type { Entry } from '../seams/entry.js';
import type { ScanOptions, ScanPage, ScannedEntry } from '../seams/store.js';
import { FreshcacheError } from './errors.js';
import { smallestKeys } from './smallest-keys.js';

/**
 * One page of `Store.scan` over keys held in this process: in key order, and the cursor is the
 * last key examined, a stable position while keys come and go, so each key present for the whole
 * walk is returned exactly once. Each call walks every key to pick the next `limit`
 * (O(n log limit)): callers that know a store is in-process ask for large pages. Entries past
 * their `expiresAt` at `now` are left out.
 */
export function scanInKeyOrder(keys: Iterable<string>, peek: (key: string) => Entry | undefined, options: ScanOptions, now: number): ScanPage {
  const { prefix = '', cursor, limit } = options;
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  const examined = smallestKeys(keys, limit, (key) => key.startsWith(prefix) && (after === undefined || key > after));
  const entries: ScannedEntry[] = [];
  for (const key of examined.keys) {
    const entry = peek(key);
    if (entry && entry.expiresAt > now) entries.push({ key, entry });
  }
  const last = examined.keys[examined.keys.length - 1];
  return examined.more && last !== undefined ? { entries, cursor: encodeCursor(last) } : { entries };
}

// A cursor is the key in UTF-16, which holds any JavaScript string exactly (UTF-8 would not).
function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf16le').toString('base64url');
}

/** The key a cursor of `scanInKeyOrder` stands for; anything it did not hand out is a bad request. */
function decodeCursor(cursor: string): string {
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.length % 2 !== 0 || bytes.toString('base64url') !== cursor) throw new FreshcacheError('bad_request', 'cursor is not one this store handed out');
  return bytes.toString('utf16le');
}
