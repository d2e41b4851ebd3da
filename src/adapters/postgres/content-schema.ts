/**
 * The origin schema, shared by PGlite (embedded) and PostgreSQL. The outbox is written by a
 * trigger in the same transaction as the change, so no code path (API, psql, a migration) can
 * change content without recording it.
 */
export const OUTBOX_CHANNEL = 'freshcache_outbox';

export const CONTENT_SCHEMA = `
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

CREATE TABLE IF NOT EXISTS freshcache_outbox (
  id           bigserial PRIMARY KEY,
  content_id   bigint NOT NULL,
  op           text NOT NULL,
  tags         text[] NOT NULL,
  version      bigint NOT NULL,
  committed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE OR REPLACE FUNCTION freshcache_content_version() RETURNS trigger AS $$
BEGIN
  NEW.version := nextval('content_version_seq');
  NEW.updated_at := clock_timestamp();
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER content_version BEFORE UPDATE ON content
  FOR EACH ROW EXECUTE FUNCTION freshcache_content_version();

CREATE OR REPLACE FUNCTION freshcache_content_outbox() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO freshcache_outbox (content_id, op, tags, version)
      VALUES (OLD.id, 'delete', OLD.tags, nextval('content_version_seq'));
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO freshcache_outbox (content_id, op, tags, version)
      VALUES (NEW.id, 'update', ARRAY(SELECT DISTINCT unnest(OLD.tags || NEW.tags) ORDER BY 1), NEW.version);
  ELSE
    INSERT INTO freshcache_outbox (content_id, op, tags, version)
      VALUES (NEW.id, 'insert', NEW.tags, NEW.version);
  END IF;
  -- Only a wake-up call for the relay; the outbox row is the durable record.
  PERFORM pg_notify('${OUTBOX_CHANNEL}', '');
  RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER content_outbox AFTER INSERT OR UPDATE OR DELETE ON content
  FOR EACH ROW EXECUTE FUNCTION freshcache_content_outbox();
`;

export interface ContentRow {
  id: number | string;
  slug: string;
  title: string;
  body: string;
  tags: string[];
  version: number | string;
  updated_at: Date | string;
}

export function toContentRecord(row: ContentRow) {
  return {
    id: Number(row.id),
    slug: row.slug,
    title: row.title,
    body: row.body,
    tags: row.tags,
    version: Number(row.version),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}
