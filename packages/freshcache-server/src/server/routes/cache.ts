import type { FastifyPluginAsync } from 'fastify';
import { FreshcacheError, DEFAULTS } from 'freshcache';
import type { AppOptions } from '../app.js';
import { setCacheHeaders } from '../cache-headers.js';
import { errorSchema } from '../error-handling.js';
import { TAG_PATTERN, checkKey, checkTags, checkTtlSeconds } from '../validation.js';

const regionQuery = {
  type: 'object',
  properties: { region: { type: 'string', description: 'Region whose cache to use; the first region when absent.' } },
  additionalProperties: false,
} as const;

/** The GET routes' note on a region this process does not serve. */
const viewNote =
  'A region this process does not serve is read through its shared Redis L2, judged by the invalidation log as its nodes judge it, ' +
  "at once where they wait out the region's delay: what the region will serve once the delay has passed.";

const keyParams = { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] } as const;

interface PutBody {
  value: unknown;
  ttl?: number;
  staleAfter?: number;
  tags?: string[];
}

/** A page of the key explorer (`GET /api/cache`). */
export interface KeyExplorerPage {
  region: string;
  items: {
    key: string;
    tier: 'l1' | 'l2';
    state: 'fresh' | 'stale' | 'invalid';
    version: number | null;
    tags: string[];
    size: number;
    ageMs: number;
    ttlMs: number;
    value: unknown;
  }[];
  /** Null once the walk is over. */
  cursor: string | null;
  /** Why this page ended: `limit` items found, the budget of keys examined per page spent, or the `end`. */
  stoppedBy: 'limit' | 'budget' | 'end';
  /** Keys this page examined, matching or not. */
  examined: number;
}

export const cacheRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
  const { maxKeyBytes, maxValueBytes } = topology.config.limits;
  // An explorer cursor can hold a key (in UTF-16, base64url), so it grows with the key limit.
  const cursorMaxLength = Math.max(1536, 4 * Math.ceil((2 * maxKeyBytes) / 3) + 64);
  const accessLog = topology.logger.isLevelEnabled('debug');
  const errors = { 400: errorSchema, 404: errorSchema, 413: errorSchema, 503: errorSchema };

  app.put<{ Params: { key: string }; Querystring: { region?: string }; Body: PutBody }>(
    '/api/cache/:key',
    {
      schema: {
        tags: ['cache'],
        summary: 'Store a JSON value under a key: every node of every region drops its copy, the region stores the new one',
        params: keyParams,
        querystring: regionQuery,
        body: {
          type: 'object',
          properties: {
            value: { description: 'Any JSON value (not null).' },
            ttl: { type: 'number', description: 'Seconds until it expires; the region TTL when absent.' },
            staleAfter: { type: 'number', description: 'Seconds after which reads answer X-Cache: STALE (until ttl). This API has no loader, so nothing refreshes it.' },
            tags: { type: 'array', items: { type: 'string', description: `Pattern ${TAG_PATTERN}` }, maxItems: 64 },
          },
          required: ['value'],
          additionalProperties: false,
        },
        response: { ...errors },
      },
    },
    async (request, reply) => {
      const key = checkKey(request.params.key, maxKeyBytes);
      const region = topology.region(request.query.region);
      const { value, ttl, staleAfter, tags = [] } = request.body;
      if (value === null || value === undefined) throw new FreshcacheError('bad_request', 'value must be a JSON value other than null');
      const maxTtlMs = DEFAULTS.maxTtlMs;
      const options = {
        ttlMs: checkTtlSeconds(ttl, maxTtlMs) ?? region.config.ttlMs,
        staleAfterMs: staleAfter === undefined ? undefined : checkTtlSeconds(staleAfter, maxTtlMs),
        tags: checkTags(tags),
      };
      // Checked before the write's event is published: a refused value must not invalidate anything.
      const valueBytes = jsonBytes(value);
      if (valueBytes > maxValueBytes) throw new FreshcacheError('value_too_large', `value of ${valueBytes} bytes is over the limit of ${maxValueBytes} bytes`);
      const event = await topology.write(region, key, value, options);
      return reply.status(201).send({ key, region: region.name, stored: true, invalidation: event.id });
    },
  );

  app.get<{ Params: { key: string }; Querystring: { region?: string } }>(
    '/api/cache/:key',
    { schema: { tags: ['cache'], summary: 'Read a key (X-Cache tells HIT or STALE)', description: viewNote, params: keyParams, querystring: regionQuery, response: errors } },
    async (request, reply) => {
      const key = checkKey(request.params.key, maxKeyBytes);
      // A region served elsewhere is read through its view of the shared L2 (Topology.reader).
      const region = await topology.reader(request.query.region);
      const found = await region.lookup(key);
      if (!found) throw new FreshcacheError('not_found', `no entry for key "${key}" in ${region.name}`);
      setCacheHeaders(reply, region.name, found, accessLog);
      return { key, value: found.value, version: found.version ?? null, tags: found.tags, state: found.state, tier: found.tier, ageMs: found.ageMs };
    },
  );

  app.delete<{ Params: { key: string }; Querystring: { region?: string } }>(
    '/api/cache/:key',
    { schema: { tags: ['cache'], summary: "Delete a key from one region's cache now, and from every other node through the log", params: keyParams, querystring: regionQuery, response: errors } },
    async (request, reply) => {
      const key = checkKey(request.params.key, maxKeyBytes);
      const region = topology.region(request.query.region);
      // Idempotent: the purge goes to every region whether or not this one held the key.
      const { event } = await topology.remove(region, key);
      return reply.status(204).header('x-invalidation-id', String(event.id)).send();
    },
  );

  app.get<{ Querystring: { region?: string; prefix?: string; tag?: string; cursor?: string; limit?: number } }>(
    '/api/cache',
    {
      schema: {
        tags: ['cache'],
        summary: 'Key explorer: keys by prefix or tag, a page at a time',
        description: viewNote,
        querystring: {
          type: 'object',
          properties: {
            region: { type: 'string' },
            prefix: { type: 'string', maxLength: 1536 },
            tag: { type: 'string', pattern: TAG_PATTERN },
            cursor: { type: 'string', maxLength: cursorMaxLength, description: 'The `cursor` of the previous page, unchanged (opaque).' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
          },
          additionalProperties: false,
        },
        response: errors,
      },
    },
    async (request): Promise<KeyExplorerPage> => {
      const region = await topology.reader(request.query.region);
      const { prefix, tag, cursor, limit = 50 } = request.query;
      const page = await region.scan({ prefix, tag, cursor, limit });
      const now = topology.clock.now();
      const items = page.items.map(({ key, entry, tier, state }) => ({
        key,
        tier,
        state,
        version: entry.version ?? null,
        tags: [...entry.tags],
        size: entry.size,
        ageMs: Math.max(0, now - entry.createdAt),
        ttlMs: Math.max(0, entry.expiresAt - now),
        value: entry.value,
      }));
      return { region: region.name, items, cursor: page.cursor ?? null, stoppedBy: page.stoppedBy, examined: page.examined };
    },
  );
};

/** The UTF-8 bytes of `value` as JSON; `bad_request` for one too deeply nested to serialise. */
function jsonBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value), 'utf8');
  } catch (error) {
    throw new FreshcacheError('bad_request', `value is not serialisable as JSON: ${(error as Error).message}`, { cause: error });
  }
}
