/**
 * The PostgreSQL parts (`freshcache/postgres`): change capture of the tables that capture rules
 * name, from the WAL (logical replication, pgoutput) or from a transactional outbox; the outbox's
 * install SQL; and the SQL client both run on. Needs `pg` (and
 * `pg-logical-replication` for the WAL feed).
 */
export { WalFeed, dropWalSlot } from './adapters/postgres/wal-feed.js';
export type { WalFeedOptions } from './adapters/postgres/wal-feed.js';
export { OutboxFeed } from './adapters/postgres/outbox-feed.js';
export type { OutboxFeedOptions } from './adapters/postgres/outbox-feed.js';
export { createPgClient } from './adapters/postgres/pg-client.js';
export type { PgClientOptions } from './adapters/postgres/pg-client.js';
export type { SqlClient } from './adapters/postgres/sql-client.js';
export { postgresCapture } from './adapters/postgres/postgres-capture.js';
export type { PostgresCapture, PostgresCaptureOptions } from './adapters/postgres/postgres-capture.js';
export { describeTables } from './adapters/postgres/table-catalog.js';
export type { TableInfo } from './adapters/postgres/table-catalog.js';
export { checkReplicaIdentity, checkNotPartitioned } from './adapters/postgres/replica-identity.js';
export { outboxInstallSql, outboxUninstallSql, replicaIdentityFullSql, walInstallSql, versionUninstallSql, installOutbox, missingOutboxTriggers } from './adapters/postgres/outbox-install.js';
export type { InstallOptions } from './adapters/postgres/outbox-install.js';
export { versionColumnsOf, versionTriggerName, unbumpedVersionColumns, unbumpedVersionWarning } from './adapters/postgres/version-columns.js';
export type { VersionColumn } from './adapters/postgres/version-columns.js';
export type { ChangeFeed, ChangeSink } from './seams/change-feed.js';
export type { RowChange } from './seams/row-change.js';

// Added by the workspace split: what freshcache-server needs from the library.
export { ROW_TRIGGER, TRUNCATE_TRIGGER } from './adapters/postgres/outbox-install.js';
