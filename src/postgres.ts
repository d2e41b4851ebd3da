/**
 * The PostgreSQL parts (`freshcache/postgres`): change capture from the WAL (logical replication,
 * pgoutput) or from a transactional outbox, and the SQL client both run on. Needs `pg` (and
 * `pg-logical-replication` for the WAL feed).
 */
export { WalFeed, dropWalSlot } from './adapters/postgres/wal-feed.js';
export type { WalFeedOptions } from './adapters/postgres/wal-feed.js';
export { OutboxFeed } from './adapters/postgres/outbox-feed.js';
export type { OutboxFeedOptions } from './adapters/postgres/outbox-feed.js';
export { createPgClient } from './adapters/postgres/pg-client.js';
export type { PgClientOptions } from './adapters/postgres/pg-client.js';
export type { SqlClient } from './adapters/postgres/sql-client.js';
export type { ChangeFeed, Change } from './seams/change-feed.js';
