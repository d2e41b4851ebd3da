import type {
  CacheHeader,
  ChaosAction,
  ChaosService,
  CacheLookup,
  CachePage,
  ContentInput,
  ContentPage,
  ContentRecord,
  DryRunResult,
  EdgeRead,
  FailoverList,
  HistoryWindow,
  InvalidationStatus,
  InvalidationTargets,
  MetricsHistory,
  MetricsSnapshot,
  NodeList,
  RebalanceAction,
  RebalanceProgress,
  RebalanceStatus,
  RegionPatch,
  RegionSettings,
  ServerInfo,
} from './types';

/** An error the API answered with (`{ error: { code, message } }`), or a request that never got an answer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Query = Record<string, string | number | undefined>;

function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

/**
 * The typed client of the freshcache API. Every call resolves with the parsed body or rejects
 * with an ApiError carrying the server's code and message, so a page can show what went wrong.
 * `baseUrl` is empty in the browser (same origin) and a server URL in tests.
 */
export class ApiClient {
  constructor(
    private readonly baseUrl = '',
    private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
  ) {}

  info(): Promise<ServerInfo> {
    return this.json('GET', '/api/info');
  }

  metrics(): Promise<MetricsSnapshot> {
    return this.json('GET', '/api/metrics');
  }

  metricsHistory(window: HistoryWindow): Promise<MetricsHistory> {
    return this.json('GET', withQuery('/api/metrics/history', { window }));
  }

  regions(): Promise<RegionSettings[]> {
    return this.json<{ items: RegionSettings[] }>('GET', '/api/regions').then((r) => r.items);
  }

  updateRegion(name: string, patch: RegionPatch): Promise<RegionSettings> {
    return this.json('PATCH', `/api/regions/${encodeURIComponent(name)}`, patch);
  }

  listContent(query: { cursor?: number; limit?: number; tag?: string } = {}): Promise<ContentPage> {
    return this.json('GET', withQuery('/api/content', query));
  }

  getContent(id: number): Promise<ContentRecord> {
    return this.json('GET', `/api/content/${id}`);
  }

  createContent(input: ContentInput): Promise<ContentRecord> {
    return this.json('POST', '/api/content', input);
  }

  updateContent(id: number, patch: Partial<ContentInput>): Promise<ContentRecord> {
    return this.json('PUT', `/api/content/${id}`, patch);
  }

  deleteContent(id: number): Promise<void> {
    return this.json('DELETE', `/api/content/${id}`);
  }

  /** Reads content through one region's cache, with the cache headers it answered with. */
  async readThrough(region: string, id: number): Promise<EdgeRead> {
    const started = performance.now();
    const response = await this.send('GET', `/edge/${encodeURIComponent(region)}/content/${id}`);
    const record = (await response.json()) as ContentRecord;
    const version = response.headers.get('x-cache-version');
    return {
      region,
      record,
      cache: (response.headers.get('x-cache') ?? 'MISS') as CacheHeader,
      ageSeconds: Number(response.headers.get('age') ?? 0),
      version: version === null ? null : Number(version),
      ms: performance.now() - started,
    };
  }

  listKeys(query: { region?: string; prefix?: string; tag?: string; cursor?: string; limit?: number }): Promise<CachePage> {
    return this.json('GET', withQuery('/api/cache', query));
  }

  getKey(key: string, region?: string): Promise<CacheLookup> {
    return this.json('GET', withQuery(`/api/cache/${encodeURIComponent(key)}`, { region }));
  }

  invalidate(targets: InvalidationTargets): Promise<InvalidationStatus> {
    return this.json('POST', '/api/invalidate', targets);
  }

  previewInvalidation(targets: InvalidationTargets): Promise<DryRunResult> {
    return this.json('POST', '/api/invalidate', { ...targets, dryRun: true });
  }

  invalidations(limit = 50): Promise<InvalidationStatus[]> {
    return this.json<{ items: InvalidationStatus[] }>('GET', withQuery('/api/invalidations', { limit })).then((r) => r.items);
  }

  invalidation(id: number): Promise<InvalidationStatus> {
    return this.json('GET', `/api/invalidations/${id}`);
  }

  nodes(): Promise<NodeList> {
    return this.json('GET', '/api/nodes');
  }

  /** Starts draining a freshcache node (202): it leaves the list once done. */
  drainNode(id: string): Promise<{ id: string; state: 'draining' }> {
    return this.json('DELETE', `/api/nodes/${encodeURIComponent(id)}`);
  }

  rebalanceStatus(): Promise<RebalanceStatus> {
    return this.json('GET', '/api/rebalance');
  }

  /** Starts a resharding (202): `node` is host:port for add-node, an id or host:port for remove-node, absent for rebalance. */
  rebalance(action: RebalanceAction, node?: string): Promise<RebalanceProgress> {
    return this.json('POST', '/api/rebalance', node === undefined ? { action } : { action, node });
  }

  failovers(): Promise<FailoverList> {
    return this.json('GET', '/api/failovers');
  }

  chaosServices(): Promise<ChaosService[]> {
    return this.json<{ services: ChaosService[] }>('GET', '/api/chaos').then((r) => r.services);
  }

  chaos(action: ChaosAction, target: string): Promise<ChaosService> {
    return this.json('POST', '/api/chaos', { action, target });
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, 'network', `${method} ${path}: the server did not answer (${(error as Error).message})`);
    }
    if (response.ok) return response;
    const text = await response.text();
    try {
      const { error } = JSON.parse(text) as { error: { code: string; message: string } };
      throw new ApiError(response.status, error.code, error.message);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new ApiError(response.status, 'http', `${method} ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
    }
  }
}

export const api = new ApiClient();
