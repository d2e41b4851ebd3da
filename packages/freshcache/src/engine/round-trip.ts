import type { Serializer } from '../seams/serializer.js';

/**
 * `value` as a read from the shared tier would return it: serialized and decoded again, with the
 * size of its text. What L1 keeps, so that L1, L2 and the loader's caller all see equal values,
 * and a caller who changes the loader's object afterwards does not change the cache.
 */
export function roundTrip(serializer: Serializer, value: unknown): { value: unknown; bytes: number } {
  const text = serializer.serialize(value);
  return { value: serializer.deserialize(text), bytes: Buffer.byteLength(text, 'utf8') };
}
