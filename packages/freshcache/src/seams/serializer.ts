/**
 * How values become text for the shared tier (L2) and come back. The Redis store writes each
 * entry as `serialize(entry)` and reads it with `deserialize`; the memory L2 keeps
 * `serialize(value)` and decodes it on every read, so the embedded L2 hands out copies as Redis
 * does; the engine gives L1 the value decoded the same way (`roundTrip`), so every tier returns
 * the same thing.
 *
 * Text, not bytes: an entry stays one JSON document that redis-cli shows and that nodes of an
 * older release still read during a rolling upgrade. A binary codec (v8, MessagePack) can return
 * base64. Every node sharing an L2 must use the same serializer; a record another one wrote and
 * this one cannot decode is read as a miss, and the next fill replaces it.
 */
export interface Serializer {
  /**
   * Text that `deserialize` turns into an equal value. Throws a `FreshcacheError` with code
   * `bad_request` for a value it cannot represent (a function, a cycle), never drops part of it.
   */
  serialize(value: unknown): string;
  /** The value `serialize` was given, rebuilt (a new object each call). Throws on text it did not write. */
  deserialize(text: string): unknown;
}
