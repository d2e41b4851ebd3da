import type { SqlClient } from 'freshcache/postgres';
import type { CaptureRule } from 'freshcache';
import type { FreshcacheConfig } from '../config.js';
import type { Logger } from '../observability/logger.js';
import type { Region } from './region.js';

/** What an app's hooks get: the origin connection, the configuration and the logger. */
export interface AppContext {
  sql: SqlClient;
  config: Readonly<FreshcacheConfig>;
  logger: Logger;
}

/**
 * An application that a topology runs on top of the kernel (the demo is one): its capture rules,
 * the schema it needs, its sample data and its loaders. Every hook is optional. One instance per
 * topology: an app may keep what its hooks are given.
 */
export interface TopologyApp {
  readonly name: string;
  /** Added to the configuration's capture rules when this process relays. */
  readonly captureRules?: readonly CaptureRule[];
  /**
   * Creates what the app needs in the origin database, before capture starts (which checks the
   * rules' tables). Every process runs it, so it must be idempotent and safe to run concurrently
   * (under an advisory lock).
   */
  install?(context: AppContext): Promise<void>;
  /** Fills an empty database with sample data; run when the configuration's `seed` is on. */
  seed?(context: AppContext): Promise<void>;
  /** A region of this process was made: define the app's loaders on its cache (`region.cache.define`). */
  onRegion?(region: Region, context: AppContext): void;
}
