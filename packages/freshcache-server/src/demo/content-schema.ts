/**
 * The demo's table, `content`, shared by PGlite (embedded) and PostgreSQL. Its changes are
 * captured like any application table's: by the capture rule in content-rules.ts.
 *
 * One DO block, so that it is one statement (PGlite's and a pool's `query` take one) and one
 * transaction, serialised by a transaction-scoped advisory lock: processes starting together
 * would otherwise race on CREATE OR REPLACE FUNCTION. Idempotent: running it again changes nothing.
 */
export const CONTENT_SCHEMA = `
DO $install$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('freshcache demo schema'));

  CREATE SEQUENCE IF NOT EXISTS content_version_seq;

  CREATE TABLE IF NOT EXISTS content (
    id         bigserial PRIMARY KEY,
    slug       text NOT NULL UNIQUE,
    title      text NOT NULL,
    body       text NOT NULL DEFAULT '',
    tags       text[] NOT NULL DEFAULT '{}',
    version    bigint NOT NULL DEFAULT nextval('content_version_seq'),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
  );

  CREATE OR REPLACE FUNCTION freshcache_content_version() RETURNS trigger AS $fn$
  BEGIN
    NEW.version := nextval('content_version_seq');
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
  END $fn$ LANGUAGE plpgsql;

  CREATE OR REPLACE TRIGGER content_version BEFORE UPDATE ON content
    FOR EACH ROW EXECUTE FUNCTION freshcache_content_version();

  -- Releases before capture rules had an outbox of their own for content; capture now installs a
  -- generic one (freshcache.outbox) when the relay reads the outbox.
  DROP TRIGGER IF EXISTS content_outbox ON content;
  DROP FUNCTION IF EXISTS freshcache_content_outbox();
  DROP TABLE IF EXISTS public.freshcache_outbox;

  -- FULL: WAL capture then sends a whole old row on updates and deletes, so the tags a record had
  -- before the change are invalidated too. Checked first: the ALTER takes an exclusive lock.
  IF (SELECT relreplident FROM pg_class WHERE oid = 'public.content'::regclass) <> 'f' THEN
    ALTER TABLE content REPLICA IDENTITY FULL;
  END IF;
END $install$;
`;
