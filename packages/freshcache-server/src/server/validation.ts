import { FreshcacheError } from 'freshcache';

/** Checks the API applies on top of JSON schema, each with its own error code. */

export const TAG_PATTERN = '^[A-Za-z0-9][A-Za-z0-9:._/-]{0,127}$';
const TAG_RE = new RegExp(TAG_PATTERN);

export function checkKey(key: string, maxKeyBytes: number): string {
  if (key.length === 0) throw new FreshcacheError('invalid_key', 'key must not be empty');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > maxKeyBytes) throw new FreshcacheError('invalid_key', `key is ${bytes} bytes, over the limit of ${maxKeyBytes}`);
  return key;
}

export function checkTags(tags: readonly string[]): string[] {
  for (const tag of tags) {
    if (!TAG_RE.test(tag)) throw new FreshcacheError('invalid_tag', `tag "${tag.slice(0, 40)}" must match ${TAG_PATTERN}`);
  }
  return [...new Set(tags)];
}

/**
 * A prefix may be written as a glob with one trailing `*` ("user:42:*"). Anything else that looks
 * like a pattern is refused rather than matched literally, so "user:*:profile" cannot silently
 * purge nothing.
 */
export function checkPrefix(pattern: string, maxKeyBytes: number): string {
  const prefix = pattern.endsWith('*') ? pattern.slice(0, -1) : pattern;
  if (prefix.length === 0) throw new FreshcacheError('invalid_pattern', `pattern "${pattern}" would match every key; name a prefix`);
  if (/[*?[\]]/.test(prefix)) {
    throw new FreshcacheError('invalid_pattern', `pattern "${pattern}" may only use a single trailing "*" (prefix match)`);
  }
  if (Buffer.byteLength(prefix, 'utf8') > maxKeyBytes) throw new FreshcacheError('invalid_pattern', `pattern is over ${maxKeyBytes} bytes`);
  return prefix;
}

/** TTL in seconds at the API edge, milliseconds inside. */
export function checkTtlSeconds(ttl: number | undefined, maxTtlMs: number): number | undefined {
  if (ttl === undefined) return undefined;
  if (!Number.isFinite(ttl) || ttl <= 0) throw new FreshcacheError('invalid_ttl', `ttl must be a positive number of seconds, got ${ttl}`);
  const ms = Math.round(ttl * 1000);
  if (ms > maxTtlMs) throw new FreshcacheError('invalid_ttl', `ttl must be at most ${maxTtlMs / 1000} seconds`);
  return Math.max(1, ms);
}
