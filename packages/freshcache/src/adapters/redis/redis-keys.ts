/**
 * The Redis key layout of freshcache. Every Redis key that belongs to one cache key (the entry,
 * and companion keys such as a stampede lease) carries that cache key as its hash tag, so in a
 * Redis Cluster they all live in one hash slot: a Lua script or MULTI may touch them together
 * without CROSSSLOT, and they move together when slots are resharded.
 *
 *   entry            <namespace>{<key>}
 *   companion key    <namespace>{<key>}<suffix>        e.g. slotKey(ns, key, ':lease')
 *
 * Why both keys share a slot for *any* key, even one that contains braces: Redis hashes only the
 * text between the first `{` of the name and the first `}` after it. The namespace and the
 * suffix contain no braces, so the first `{` is always the one written here, right before the
 * cache key. What follows it is `<key>}` in both names, so the first `}` after it is the same
 * character in both: the cache key's own first `}`, or the closing brace written here. Either
 * way the hashed text is the same run of characters of the cache key. The suffix comes after the
 * closing brace so it can never be inside the hashed text.
 *
 * One exception needs care: a hash tag with nothing inside (`{}`) makes Redis hash the whole
 * name, and then an entry and its companion (different names) would land in different slots.
 * That happens for an empty key and a key that starts with `}`. Such keys, and keys that start
 * with the escape character itself (so that decoding stays unambiguous), are written with a
 * leading `\`: `}a` becomes `<namespace>{\}a}`. Every other key is written as it is, so
 * `redis-cli` shows what the user wrote.
 *
 * Companion suffixes go after the tag rather than before it (`<namespace>lease:{<key>}`) so that
 * no companion key of one namespace can ever equal an entry of another: a name's namespace is
 * everything before its first `{`, and only entries end with `}`.
 */

const ESCAPE = '\\';
const BRACES = /[{}]/;

/** Throws unless `namespace` can prefix keys: braces in it would move the hash tag. */
export function assertNamespace(namespace: string): void {
  if (BRACES.test(namespace)) {
    throw new Error(`Redis namespace ${JSON.stringify(namespace)} contains a brace: braces would change which part of each key Redis hashes (its hash tag)`);
  }
}

/**
 * The Redis key for cache key `key` in `namespace`: the entry itself without `suffix`, or a
 * companion key in the same hash slot with it (e.g. ':lease'). The namespace must have passed
 * `assertNamespace`; it is not re-checked here because this runs on every read.
 */
export function slotKey(namespace: string, key: string, suffix = ''): string {
  if (suffix !== '' && BRACES.test(suffix)) {
    throw new Error(`Redis key suffix ${JSON.stringify(suffix)} contains a brace: it would change the hash tag`);
  }
  return `${namespace}{${encodeTag(key)}}${suffix}`;
}

/** The cache key an entry's Redis name stands for, or undefined when the name is not an entry of `namespace`. */
export function keyFromSlotKey(namespace: string, redisKey: string): string | undefined {
  if (!redisKey.startsWith(`${namespace}{`) || !redisKey.endsWith('}')) return undefined;
  const tag = redisKey.slice(namespace.length + 1, -1);
  return tag.startsWith(ESCAPE) ? tag.slice(1) : tag;
}

/**
 * A SCAN MATCH pattern for the entries of `namespace` whose cache key starts with `prefix`. It
 * ends with `}`, so companion keys (which end with their suffix) are not matched.
 */
export function entryPattern(namespace: string, prefix = ''): string {
  // Escaping depends only on a key's first character, so every key that starts with `prefix`
  // is written starting with the escaped prefix.
  const written = prefix === '' ? '' : encodeTag(prefix);
  return `${escapeGlob(`${namespace}{${written}`)}*}`;
}

function encodeTag(key: string): string {
  return key === '' || key.startsWith('}') || key.startsWith(ESCAPE) ? ESCAPE + key : key;
}

/** Redis MATCH is a glob: literal text must have its special characters escaped. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
