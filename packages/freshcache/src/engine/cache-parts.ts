import type { LocalStore } from '../seams/local-store.js';
import type { Serializer } from '../seams/serializer.js';
import type { Store } from '../seams/store.js';
import type { CacheStats } from './cache-stats.js';
import type { CacheSettings } from './cache-types.js';
import type { Clock } from './clock.js';
import type { EntryDating } from './entry-dating.js';
import type { Generations } from './generations.js';
import type { NegativeCache } from './negative-cache.js';

/** What the rooms of a TieredCache share: its tiers, its marks and clocks, its settings and counters. */
export interface CacheParts {
  readonly name: string;
  readonly l1: LocalStore;
  readonly l2: Store | undefined;
  readonly generations: Generations;
  readonly dating: EntryDating;
  readonly negatives: NegativeCache;
  readonly clock: Clock;
  readonly stats: CacheStats;
  /** Read at each use: `configure` changes it in place. */
  readonly settings: CacheSettings;
  /** How L2 turns values into text: L1 keeps each value as it would come back from there. */
  readonly serializer: Serializer;
}
