import { createRequire } from 'node:module';

/**
 * The Redis Cluster hash slot of a key (its hash tag's, when it has one), by ioredis's own
 * function: the package is CommonJS and ships no types.
 */
export const clusterSlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;
