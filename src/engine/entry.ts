import { FreshcacheError } from './errors.js';

/** One cached value with everything freshcache needs to decide whether it may still be served. */
export interface Entry<T = unknown> {
  value: T;
  /** The origin's version of the value (row version, LSN); undefined when the writer gave none. */
  version: number | undefined;
  tags: readonly string[];
  createdAt: number;
  /** Hard expiry: never served after this instant. */
  expiresAt: number;
  /** Soft expiry: after this instant the entry is served STALE while it is revalidated. */
  staleAt: number;
  /** Approximate size in bytes (UTF-8 of the JSON value plus key and tags). */
  size: number;
  /**
   * The region's invalidation sequence when the value was read from its source. Any invalidation
   * applied later (a higher sequence) that matches the key, a tag or a prefix makes it invalid.
   */
  generation: number;
}

export function jsonByteLength(value: unknown): number {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    // Cycles, BigInts, or nesting deep enough to overflow the stack: not a cacheable JSON value.
    throw new FreshcacheError('bad_request', `value is not serialisable as JSON: ${(error as Error).message}`, { cause: error });
  }
  return json === undefined ? 0 : Buffer.byteLength(json, 'utf8');
}

export function entrySize(key: string, valueBytes: number, tags: readonly string[]): number {
  let size = valueBytes + key.length + 64;
  for (const tag of tags) size += tag.length;
  return size;
}
