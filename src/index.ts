/** The public library API. */
export { createCache } from './create-cache.js';
export type { CreateCacheOptions } from './create-cache.js';
export { TieredCache } from './engine/tiered-cache.js';
export type { CacheState, LoadContext, Loader, Lookup, Strategy, Tier, WriteOptions } from './engine/tiered-cache.js';
export type { InvalidationTargets } from './engine/generations.js';
export { ManualClock, systemClock } from './engine/clock.js';
export type { Clock, Timer } from './engine/clock.js';
export { FreshcacheError, ERROR_CATALOGUE } from './engine/errors.js';
export type { ErrorCode } from './engine/errors.js';
export type { Entry } from './seams/entry.js';
export { MemoryStore } from './adapters/memory/memory-store.js';
export type { LocalStore } from './seams/local-store.js';
export type { Store, StoreCapabilities, ScanOptions, ScanPage } from './seams/store.js';
export type { InvalidationLog, InvalidationEvent, InvalidationInput, InvalidationKind } from './seams/invalidation-log.js';
export { EVENT_FORMAT_VERSION, unknownEvent } from './seams/invalidation-log.js';
export type { ChangeFeed, Change } from './seams/change-feed.js';
export type { OriginStore, ContentRecord } from './seams/origin-store.js';
