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
 * The origin: content in a SQL database. Every write is one transaction that also records the
 * change (outbox row or WAL), so a cache can never miss a committed change.
 */
export interface OriginStore {
  get(id: number): Promise<ContentRecord | undefined>;
  list(options: { afterId?: number; limit: number; tag?: string }): Promise<ContentPage>;
  create(input: ContentInput): Promise<ContentRecord>;
  /** Resolves undefined when there is no such id. */
  update(id: number, patch: ContentPatch): Promise<ContentRecord | undefined>;
  delete(id: number): Promise<boolean>;
  /** Runs raw SQL as a user would (psql, a migration): changes made so must invalidate too. */
  execute(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}
