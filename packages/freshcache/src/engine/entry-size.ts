import { typedJsonSerializer } from './typed-json-serializer.js';

/**
 * The UTF-8 length of a value's text in the default serializer (its JSON when it is plain JSON);
 * a value it cannot represent (a function, a cycle) is a `bad_request`. A cache with a serializer
 * of its own measures with `roundTrip` instead.
 */
export function jsonByteLength(value: unknown): number {
  return Buffer.byteLength(typedJsonSerializer.serialize(value), 'utf8');
}

/** An entry's `size`: its value's bytes plus its key, its tags and a fixed overhead. */
export function entrySize(key: string, valueBytes: number, tags: readonly string[]): number {
  let size = valueBytes + key.length + 64;
  for (const tag of tags) size += tag.length;
  return size;
}
