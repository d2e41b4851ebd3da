/** The public library API. */
export { createCache } from './create-cache.js';
export type { CreateCacheOptions, FollowOptions } from './create-cache.js';
export type { LibraryMetricsOptions } from './observability/library-metrics.js';
export { TieredCache } from './engine/tiered-cache.js';
export type { CacheState, LoadContext, Loader, Lookup, Strategy, Tier, SetOptions, WriteOptions } from './engine/tiered-cache.js';
export type { InvalidationTargets } from './engine/generations.js';
export { KeyTemplate, KeyTemplateError } from './engine/key-template.js';
export type { KeyTemplateErrorCode } from './engine/key-template.js';
export type { TemplateLoaders, TemplateParams } from './engine/loader-registry.js';
export { ManualClock, systemClock } from './engine/clock.js';
export type { Clock, Timer } from './engine/clock.js';
export { FreshcacheError, ERROR_CATALOGUE } from './engine/errors.js';
export {
  CACHE_DEFAULTS,
  CACHE_LIMITS,
  CacheSettingsSchema,
  EvictionPolicySchema,
  LiveSettingsSchema,
  MaxStaleMsSchema,
  NegativeTtlMsSchema,
  StrategySchema,
  StringEnum,
  TierBoundsSchema,
  TtlMsSchema,
  checkAgainst,
  checkCacheOptions,
} from './engine/cache-options-schema.js';
export type { CacheSettingsInput, LiveSettings, TierBounds } from './engine/cache-options-schema.js';
export type { ErrorCode } from './engine/errors.js';
export type { Entry } from './seams/entry.js';
export type { Serializer } from './seams/serializer.js';
export { typedJsonSerializer } from './engine/typed-json-serializer.js';
export { MemoryStore } from './adapters/memory/memory-store.js';
export { MemoryNodeRegistry } from './adapters/memory/memory-node-registry.js';
export type { MemoryNodeRegistryOptions } from './adapters/memory/memory-node-registry.js';
export type { NodeRecord, NodeRegistry, NodeRegistryTimings, NodeState, NodeStatus, NodeView, RegionFigures } from './seams/node-registry.js';
export { NODE_REGISTRY_DEFAULTS, nodeStateAt } from './seams/node-registry.js';
export { NodeHeartbeat } from './observability/node-heartbeat.js';
export type { NodeHeartbeatOptions } from './observability/node-heartbeat.js';
export type { LocalStore } from './seams/local-store.js';
export type { KeyDrop, Store, StoreCapabilities, ScanOptions, ScanPage } from './seams/store.js';
export type { ControlCommand, InvalidationLog, InvalidationEvent, InvalidationInput, InvalidationKind } from './seams/invalidation-log.js';
export { EVENT_FORMAT_VERSION, formatOf, unknownEvent } from './seams/invalidation-log.js';
export type { ChangeFeed, ChangeSink } from './seams/change-feed.js';
export type { Row, RowChange, RowOp } from './seams/row-change.js';
export { qualifyTable } from './seams/row-change.js';
export { compileRules, TargetSet } from './capture/capture-rules.js';
export type { CaptureRule, TemplateRule, FunctionRule, CompiledRules, ChangeMapper, MappedTargets, CompileOptions } from './capture/capture-rules.js';
export { CaptureError } from './capture/capture-error.js';
export type { CaptureErrorCode } from './capture/capture-error.js';
export { CAPTURE_RULES_SCHEMA } from './capture/capture-rules-schema.js';

// Added by the workspace split: what freshcache-server needs from the library.
export { LogFollower } from './engine/log-follower.js';
export { CacheStats } from './engine/cache-stats.js';
export { DEFAULTS } from './engine/tiered-cache.js';
export type { MatchResult } from './engine/tiered-cache.js';
export { MemoryLog } from './adapters/memory/memory-log.js';
export type { EvictionPolicy } from './adapters/memory/memory-store.js';
export { lagOf } from './seams/invalidation-log.js';
export { VERSION } from './version.js';
export { registerCacheFamilies } from './observability/cache-families.js';
export type { ApplyMark, ApplyMarks } from './seams/apply-marks.js';
export { MemoryApplyMarks } from './adapters/memory/memory-apply-marks.js';
export { ApplyMarkReporter, APPLY_MARK_INTERVAL_MS } from './engine/apply-mark-reporter.js';
