/** An entry's `size`: its value's bytes plus its key, its tags and a fixed overhead. */
export function entrySize(key: string, valueBytes: number, tags: readonly string[]): number {
  let size = valueBytes + key.length + 64;
  for (const tag of tags) size += tag.length;
  return size;
}
