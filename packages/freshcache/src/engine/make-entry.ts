import type { CacheParts } from './cache-parts.js';
import type { LocalEntry, WriteOptions } from './cache-types.js';
import { entrySize } from './entry-size.js';
import { FreshcacheError } from './errors.js';
import { roundTrip } from './round-trip.js';
import type { LocalSeq } from './sequences.js';

/**
 * A new entry for `value`, read at `readAt`, checked against the cache's limits (TTL, value size).
 * It holds the value as L2 would return it (serialized and decoded again), so that every tier,
 * and the caller who loaded it, sees an equal value.
 */
export function makeEntry(parts: CacheParts, key: string, value: unknown, options: WriteOptions, readAt: LocalSeq): LocalEntry {
  const { settings, generations, clock } = parts;
  if (value === undefined) throw new FreshcacheError('bad_request', `cannot cache undefined for key "${key}"`);
  const ttlMs = options.ttlMs ?? settings.defaultTtlMs;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > settings.maxTtlMs) {
    throw new FreshcacheError('invalid_ttl', `ttl must be between 1 ms and ${settings.maxTtlMs} ms, got ${ttlMs}`);
  }
  const staleAfterMs = options.staleAfterMs;
  if (staleAfterMs !== undefined && (!Number.isFinite(staleAfterMs) || staleAfterMs < 0)) {
    throw new FreshcacheError('invalid_ttl', `staleAfter must be a non-negative number of ms, got ${staleAfterMs}`);
  }
  // Marks must outlive the entries they can invalidate.
  generations.keepFor(ttlMs);
  const { value: stored, bytes: valueBytes } = roundTrip(parts.serializer, value);
  if (valueBytes > settings.maxValueBytes) {
    throw new FreshcacheError('value_too_large', `value of ${valueBytes} bytes is over the limit of ${settings.maxValueBytes} bytes`);
  }
  const tags = options.tags ? [...options.tags] : [];
  const now = clock.now();
  return {
    value: stored,
    version: options.version,
    tags,
    createdAt: now,
    expiresAt: now + ttlMs,
    staleAt: staleAfterMs === undefined ? now + ttlMs : now + Math.min(staleAfterMs, ttlMs),
    size: entrySize(key, valueBytes, tags),
    generation: readAt,
  };
}
