import { FreshcacheError } from 'freshcache';
import type { SqlClient } from 'freshcache/postgres';

/** A piece of content at the origin, the source of truth. */
export interface ContentRecord {
  id: number;
  slug: string;
  title: string;
  body: string;
  tags: string[];
  /** Increases on every change, across all rows (one sequence), so versions compare across rows. */
  version: number;
  updatedAt: string;
}

/** An article in a list view: the record without its body. */
export type ContentSummary = Omit<ContentRecord, 'body'>;

/** A tag's list view: its first articles by id, and whether it has more. */
export interface ContentList {
  tag: string;
  items: ContentSummary[];
  more: boolean;
}

export interface ContentInput {
  slug: string;
  title: string;
  body?: string;
  tags?: string[];
}

export type ContentPatch = Partial<ContentInput>;

export interface ContentPage {
  items: ContentRecord[];
  cursor?: number;
}

/**
 * The demo's content in a SQL database. A write is a plain statement on the table: capture (the
 * outbox trigger or the WAL) records the change, so a cache can never miss a committed change.
 */
export interface ContentStore {
  get(id: number): Promise<ContentRecord | undefined>;
  list(options: { afterId?: number; limit: number; tag?: string }): Promise<ContentPage>;
  create(input: ContentInput): Promise<ContentRecord>;
  /** Resolves undefined when there is no such id. */
  update(id: number, patch: ContentPatch): Promise<ContentRecord | undefined>;
  delete(id: number): Promise<boolean>;
  /** Runs raw SQL as a user would (psql, a migration): changes made so must invalidate too. */
  execute(sql: string, params?: unknown[]): Promise<void>;
}

interface ContentRow {
  id: number | string;
  slug: string;
  title: string;
  body: string;
  tags: string[];
  version: number | string;
  updated_at: Date | string;
}

function toContentRecord(row: ContentRow): ContentRecord {
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

const COLUMNS = 'id, slug, title, body, tags, version, updated_at';

/** The content queries over SQL; the same run on PGlite and PostgreSQL. */
export class SqlContentStore implements ContentStore {
  constructor(private readonly sql: Pick<SqlClient, 'query'>) {}

  async get(id: number): Promise<ContentRecord | undefined> {
    const { rows } = await this.run<ContentRow>(`SELECT ${COLUMNS} FROM content WHERE id = $1`, [id]);
    return rows[0] ? toContentRecord(rows[0]) : undefined;
  }

  async list({ afterId = 0, limit, tag }: { afterId?: number; limit: number; tag?: string }): Promise<ContentPage> {
    const { rows } = await this.run<ContentRow>(
      `SELECT ${COLUMNS} FROM content WHERE id > $1 AND ($2::text IS NULL OR $2 = ANY(tags)) ORDER BY id LIMIT $3`,
      [afterId, tag ?? null, limit + 1],
    );
    const items = rows.slice(0, limit).map(toContentRecord);
    return rows.length > limit ? { items, cursor: items[items.length - 1]!.id } : { items };
  }

  async create(input: ContentInput): Promise<ContentRecord> {
    const { rows } = await this.run<ContentRow>(
      `INSERT INTO content (slug, title, body, tags) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
      [input.slug, input.title, input.body ?? '', input.tags ?? []],
    );
    return toContentRecord(rows[0]!);
  }

  async update(id: number, patch: ContentPatch): Promise<ContentRecord | undefined> {
    const { rows } = await this.run<ContentRow>(
      `UPDATE content SET slug = COALESCE($2, slug), title = COALESCE($3, title), body = COALESCE($4, body),
         tags = COALESCE($5, tags) WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, patch.slug ?? null, patch.title ?? null, patch.body ?? null, patch.tags ?? null],
    );
    return rows[0] ? toContentRecord(rows[0]) : undefined;
  }

  async delete(id: number): Promise<boolean> {
    const { rows } = await this.run<{ id: number }>('DELETE FROM content WHERE id = $1 RETURNING id', [id]);
    return rows.length > 0;
  }

  async execute(sql: string, params: unknown[] = []): Promise<void> {
    await this.run(sql, params);
  }

  private async run<R>(sql: string, params: unknown[]): Promise<{ rows: R[] }> {
    try {
      return await this.sql.query<R>(sql, params);
    } catch (error) {
      // Already coded by the SQL client (origin_unavailable for an unreachable database).
      if (error instanceof FreshcacheError) throw error;
      const code = (error as { code?: string }).code;
      if (code === '23505') throw new FreshcacheError('conflict', 'a content record with this slug exists already', { cause: error });
      // SQLSTATE class 22 is "data exception": the input (a NUL character, a number out of
      // range), not the origin, is at fault.
      if (code?.startsWith('22')) throw new FreshcacheError('bad_request', `the origin refused the data: ${(error as Error).message}`, { cause: error });
      throw new FreshcacheError('origin_unavailable', `origin query failed: ${(error as Error).message}`, { cause: error });
    }
  }
}
