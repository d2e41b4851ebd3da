import { FreshcacheError } from './errors.js';

/** The UTF-8 length of a value's JSON; a value that has none (cycles, BigInts) is a bad request. */
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

/** An entry's `size`: its value's bytes plus its key, its tags and a fixed overhead. */
export function entrySize(key: string, valueBytes: number, tags: readonly string[]): number {
  let size = valueBytes + key.length + 64;
  for (const tag of tags) size += tag.length;
  return size;
}
