import pg from 'pg';
import { Pool } from 'undici';

/** A write that failed, with the code the report counts it under ("404 not_found", "ECONNREFUSED", "57P01"). */
export class WriteError extends Error {
  constructor(readonly code: string, message = code) {
    super(message);
  }
}

/** Changes one key at the origin and resolves with the version it committed. */
export interface LoadWriter {
  readonly describe: string;
  write(id: number, sequence: number): Promise<number>;
  close(): Promise<void>;
}

/** How many writes may be in flight to the origin at once: more wait in the writer's queue. */
const WRITE_CONNECTIONS = 8;

/**
 * Writes through an HTTP API: PUT of `pathTemplate` (`{id}` the key) with the JSON `body(sequence)`.
 * The version is the answer's X-Cache-Version when it has one, else its JSON `version`.
 */
export class ApiWriter implements LoadWriter {
  readonly describe: string;
  private readonly pool: Pool;
  private readonly before: string;
  private readonly after: string;

  constructor(
    url: URL,
    pathTemplate: string,
    private readonly body: (sequence: number) => string,
  ) {
    const path = url.pathname.replace(/\/+$/, '') + pathTemplate;
    this.describe = `PUT ${url.origin}${path}`;
    [this.before, this.after = ''] = path.split('{id}', 2) as [string, string?];
    this.pool = new Pool(url.origin, { connections: WRITE_CONNECTIONS, headersTimeout: 10_000, bodyTimeout: 10_000 });
  }

  async write(id: number, sequence: number): Promise<number> {
    let response;
    try {
      response = await this.pool.request({
        method: 'PUT',
        path: this.before + id + this.after,
        headers: { 'content-type': 'application/json' },
        body: this.body(sequence),
      });
    } catch (error) {
      throw new WriteError(errorCode(error), (error as Error).message);
    }
    const text = await response.body.text();
    const body = parseJson(text) as { version?: unknown; error?: { code?: string } } | undefined;
    if (response.statusCode < 200 || response.statusCode > 299) throw new WriteError(statusCode(response.statusCode, body?.error?.code), text.slice(0, 200));
    const header = response.headers['x-cache-version'];
    const version = Number(typeof header === 'string' ? header : body?.version);
    if (!Number.isFinite(version)) throw new WriteError('no_version', 'the answer carries no version (X-Cache-Version or a JSON "version")');
    return version;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/**
 * Writes in SQL: `sql` takes the key as $1 (and, when it uses $2, a new text) and returns the
 * version it committed as its first column (`… RETURNING version`).
 */
export class SqlWriter implements LoadWriter {
  readonly describe: string;
  private readonly pool: pg.Pool;
  private readonly takesText: boolean;

  constructor(
    url: string,
    private readonly sql: string,
  ) {
    this.describe = `SQL ${sql}`;
    this.takesText = /\$2\b/.test(sql);
    this.pool = new pg.Pool({ connectionString: url, max: WRITE_CONNECTIONS });
    // An idle client's error (the server restarting) must not crash the run: the next write fails and is counted.
    this.pool.on('error', () => {});
  }

  async write(id: number, sequence: number): Promise<number> {
    let rows: Record<string, unknown>[];
    try {
      ({ rows } = await this.pool.query({ text: this.sql, values: this.takesText ? [id, `Written by freshcache load (${sequence})`] : [id] }));
    } catch (error) {
      throw new WriteError(errorCode(error), (error as Error).message);
    }
    const first = rows[0];
    if (!first) throw new WriteError('no_row', `no row with id ${id}`);
    const version = Number(Object.values(first)[0]);
    if (!Number.isFinite(version)) throw new WriteError('no_version', 'the statement returned no numeric version as its first column');
    return version;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The code a failed request is counted under: a status with its error code, or the network error's code. */
export function statusCode(status: number, code: string | undefined): string {
  return code ? `${status} ${code}` : String(status);
}

export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : (error as Error).name || 'error';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
