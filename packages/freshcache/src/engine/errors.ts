/**
 * The error catalogue: every error freshcache raises on purpose has a stable code and the HTTP
 * status it maps to. The API reference lists the same table (docs/api.md); a test keeps them in step.
 */
export const ERROR_CATALOGUE = {
  bad_request: { status: 400, description: 'The request is malformed (JSON syntax, wrong types, missing fields).' },
  invalid_key: { status: 400, description: 'A cache key is empty or longer than the key limit (512 bytes by default).' },
  invalid_ttl: { status: 400, description: 'A TTL is negative, not a number, or longer than the maximum TTL.' },
  invalid_pattern: { status: 400, description: 'A prefix pattern is empty or uses wildcards other than one trailing `*`.' },
  invalid_tag: { status: 400, description: 'A tag is empty, longer than 128 characters, or uses characters outside A-Z a-z 0-9 : . _ / -.' },
  empty_invalidation: { status: 400, description: 'An invalidation names no keys, tags or prefixes.' },
  value_too_large: { status: 413, description: 'A cached value is larger than the value limit (1 MiB by default).' },
  body_too_large: { status: 413, description: 'The request body is larger than the body limit.' },
  unsupported_media_type: { status: 415, description: 'The request body is not JSON.' },
  not_found: { status: 404, description: 'No such route, key, record or invalidation.' },
  unknown_region: { status: 404, description: 'No region has that name.' },
  no_region: { status: 400, description: 'This process serves no region, or not the one asked for: send the request to a node that serves it.' },
  no_loader: { status: 404, description: 'No loader for the key: no call-site loader was given and no defined key template matches it.' },
  not_drainable: { status: 409, description: 'The node cannot be drained: a library instance inside a service, which its service stops, not freshcache.' },
  node_draining: { status: 503, description: 'This node is draining or drained: it takes no more work; send the request to another node of the region.' },
  node_unreachable: { status: 503, description: 'The node to drain could not be reached at its URL; it may be down (it is removed from the list once silent long enough).' },
  conflict: { status: 409, description: 'The change conflicts with existing data (for example a duplicate slug).' },
  origin_unavailable: { status: 503, description: 'The origin could not be reached or failed.' },
  store_unavailable: { status: 503, description: 'The shared tier (Redis) could not be reached, so an operation that must reach it (a delete, a listing) did not happen.' },
  log_unavailable: { status: 503, description: 'The invalidation log (Redis) could not be reached, so an invalidation or write was not published; retry it.' },
  log_unreplicated: { status: 503, description: "The invalidation was appended to the log, but no replica of the log's primary confirmed it in time, so a failover could still lose it; retry it (appending it twice is harmless)." },
  internal: { status: 500, description: 'A bug: please report it with the request id.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class FreshcacheError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FreshcacheError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
  }
}
