/**
 * The contract suites (`freshcache/testing`): one per seam, the same suites freshcache's own
 * adapters pass, so that an adapter of one's own can be checked against them. Each suite
 * registers vitest tests (`describe`/`it`) when called in a test file: vitest is an optional peer.
 */
export { storeContract, fillLeaseContract, entry, walk } from './store-contract.js';
export { localStoreContract } from './local-store-contract.js';
export { tierValuesContract } from './tier-values-contract.js';
export type { SharedL2 } from './tier-values-contract.js';
export { invalidationLogContract, eventCollector } from './invalidation-log-contract.js';
export { changeFeedContract, changeCollector, CONTRACT_SCHEMA, CONTRACT_TABLES } from './change-feed-contract.js';
export type { FeedFixture } from './change-feed-contract.js';
export { nodeRegistryContract, nodeRecord } from './node-registry-contract.js';
export { applyMarksContract } from './apply-marks-contract.js';
