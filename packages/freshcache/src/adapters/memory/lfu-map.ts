/**
 * A bounded least-frequently-used map, O(1) per operation.
 *
 * lru-cache has no LFU policy, so this is hand-written: entries sit in frequency buckets (a Set
 * per frequency keeps insertion order, so ties go to the least recently used), and the lowest
 * non-empty bucket is tracked. Frequencies are capped so that a key popular long ago can be
 * overtaken by a key popular now.
 */
const MAX_FREQUENCY = 1024;

interface LfuNode<V> {
  value: V;
  size: number;
  frequency: number;
}

export interface LfuMapOptions<V> {
  maxEntries: number;
  maxBytes: number;
  sizeOf: (value: V) => number;
  onEvict?: (key: string, value: V) => void;
}

export class LfuMap<V> {
  private readonly nodes = new Map<string, LfuNode<V>>();
  private readonly buckets = new Map<number, Set<string>>();
  private minFrequency = 1;
  private totalBytes = 0;

  constructor(private readonly options: LfuMapOptions<V>) {}

  get size(): number {
    return this.nodes.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get(key: string): V | undefined {
    const node = this.nodes.get(key);
    if (!node) return undefined;
    this.touch(key, node);
    return node.value;
  }

  peek(key: string): V | undefined {
    return this.nodes.get(key)?.value;
  }

  has(key: string): boolean {
    return this.nodes.has(key);
  }

  set(key: string, value: V): void {
    const size = this.options.sizeOf(value);
    if (size > this.options.maxBytes) {
      this.delete(key);
      return;
    }
    const existing = this.nodes.get(key);
    if (existing) {
      this.totalBytes += size - existing.size;
      existing.value = value;
      existing.size = size;
      this.touch(key, existing);
    } else {
      this.nodes.set(key, { value, size, frequency: 1 });
      this.bucket(1).add(key);
      this.minFrequency = 1;
      this.totalBytes += size;
    }
    while (this.nodes.size > this.options.maxEntries || this.totalBytes > this.options.maxBytes) {
      if (!this.evictOne(key)) break;
    }
  }

  delete(key: string): boolean {
    const node = this.nodes.get(key);
    if (!node) return false;
    this.unlink(key, node);
    return true;
  }

  clear(): void {
    this.nodes.clear();
    this.buckets.clear();
    this.totalBytes = 0;
    this.minFrequency = 1;
  }

  keys(): IterableIterator<string> {
    return this.nodes.keys();
  }

  private touch(key: string, node: LfuNode<V>): void {
    if (node.frequency >= MAX_FREQUENCY) {
      // Move to the back of its bucket so recency still breaks ties among capped keys.
      const bucket = this.bucket(node.frequency);
      bucket.delete(key);
      bucket.add(key);
      return;
    }
    const bucket = this.buckets.get(node.frequency);
    bucket?.delete(key);
    if (bucket && bucket.size === 0) {
      this.buckets.delete(node.frequency);
      if (this.minFrequency === node.frequency) this.minFrequency = node.frequency + 1;
    }
    node.frequency++;
    this.bucket(node.frequency).add(key);
  }

  private evictOne(protectedKey: string): boolean {
    let bucket = this.buckets.get(this.minFrequency);
    if (!bucket || bucket.size === 0) {
      this.minFrequency = Math.min(...this.buckets.keys());
      bucket = this.buckets.get(this.minFrequency);
    }
    if (!bucket) return false;
    for (const victim of bucket) {
      if (victim === protectedKey && this.nodes.size > 1) continue;
      const node = this.nodes.get(victim)!;
      this.unlink(victim, node);
      this.options.onEvict?.(victim, node.value);
      return true;
    }
    // Only the protected key is left in the lowest bucket: look higher up.
    const others = [...this.buckets.keys()].filter((f) => f !== this.minFrequency);
    if (others.length === 0) return false;
    const victim = this.buckets.get(Math.min(...others))!.values().next().value as string;
    const node = this.nodes.get(victim)!;
    this.unlink(victim, node);
    this.options.onEvict?.(victim, node.value);
    return true;
  }

  private unlink(key: string, node: LfuNode<V>): void {
    this.nodes.delete(key);
    this.totalBytes -= node.size;
    const bucket = this.buckets.get(node.frequency);
    bucket?.delete(key);
    if (bucket && bucket.size === 0) this.buckets.delete(node.frequency);
  }

  private bucket(frequency: number): Set<string> {
    let bucket = this.buckets.get(frequency);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(frequency, bucket);
    }
    return bucket;
  }
}
