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
