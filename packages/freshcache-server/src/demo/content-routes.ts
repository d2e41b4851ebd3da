import type { FastifyPluginAsync } from 'fastify';
import { FreshcacheError } from 'freshcache';
import { TAG_PATTERN, checkTags, edgeRoute, errorSchema, jsonBody, setCacheHeaders } from '../server/app.js';
import type { Topology } from '../topology/topology.js';
import type { ContentInput, ContentList, ContentPatch, ContentRecord, ContentStore } from './content-store.js';

/** The JSON schema of a content record: documents responses and lets Fastify serialise them fast. */
export const contentRecordSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    slug: { type: 'string' },
    title: { type: 'string' },
    body: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    version: { type: 'integer', description: 'Origin version: one sequence across all rows, bumped on every change.' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'slug', 'title', 'body', 'tags', 'version', 'updatedAt'],
} as const;

/** The cache key of a content record: the key template the demo defines in every region. */
export const CONTENT_KEY = 'content:{id}';

export function contentKey(id: number): string {
  return `content:${id}`;
}

/** The demo's edge read: content through a region's cache, loaded by the region's `content:{id}` template. */
export const contentEdgeRoute = edgeRoute<ContentRecord>({
  path: '/edge/:region/content/:id',
  key: CONTENT_KEY,
  params: { id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
  read: (region, { id }) => region.cache.lookupOrLoad<ContentRecord>(contentKey(id as number)),
  summary: "Read content through one region's cache (L1 → L2 → origin)",
  response: contentRecordSchema,
});

/**
 * The cache key of a tag's list view: the key template the demo defines in every region. Its
 * entries carry the tags `list:<tag>` (what a change of an article in the tag invalidates) and
 * `<tag>` (what an operator's purge of the tag drops, as it drops the articles).
 */
export const CONTENT_LIST_KEY = 'content-list:{tag}';

export function contentListKey(tag: string): string {
  return `content-list:${tag}`;
}

export function contentListTags(tag: string): string[] {
  return [`list:${tag}`, tag];
}

/** The most articles a list view holds (the first, by id); `more` says when the tag has others. */
export const CONTENT_LIST_LIMIT = 50;

const contentListSchema = {
  type: 'object',
  properties: {
    tag: { type: 'string' },
    items: {
      type: 'array',
      description: 'The articles tagged so, in id order, without their bodies.',
      items: {
        type: 'object',
        properties: { id: { type: 'integer' }, slug: { type: 'string' }, title: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } }, version: { type: 'integer' }, updatedAt: { type: 'string', format: 'date-time' } },
        required: ['id', 'slug', 'title', 'tags', 'version', 'updatedAt'],
      },
    },
    more: { type: 'boolean', description: `Whether the tag has more than the ${CONTENT_LIST_LIMIT} articles listed.` },
  },
  required: ['tag', 'items', 'more'],
} as const;

/** What the dashboard hears when content changes through the API (an `app.event` named `content.changed`). */
export type ContentChanged = { op: 'create' | 'update' | 'delete'; id: number; record?: ContentRecord };

function announce(topology: Topology, data: ContentChanged): void {
  topology.events.emit('app.event', { name: 'content.changed', data });
}

const fields = {
  slug: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,99}$' },
  title: { type: 'string', minLength: 1, maxLength: 200 },
  body: { type: 'string', maxLength: 100_000 },
  tags: { type: 'array', items: { type: 'string', description: `Pattern ${TAG_PATTERN}` }, maxItems: 20 },
} as const;

const idParams = { type: 'object', properties: { id: { type: 'integer', minimum: 1, maximum: 9_007_199_254_740_991 } }, required: ['id'] } as const;

/** CRUD of content at the origin (`/api/content`); `store()` is the app's store, read per request. */
export function contentRoutes(store: () => ContentStore): FastifyPluginAsync<{ topology: Topology }> {
  return async (app, { topology }) => {
    const errors = { 400: errorSchema, 404: errorSchema, 409: errorSchema };

    app.post<{ Body: ContentInput }>(
      '/api/content',
      {
        schema: {
          tags: ['content'],
          summary: 'Create content at the origin',
          body: { type: 'object', properties: fields, required: ['slug', 'title'], additionalProperties: false },
          response: { 201: contentRecordSchema, ...errors },
        },
      },
      async (request, reply) => {
        const record = await store().create({ ...request.body, tags: checkTags(request.body.tags ?? []) });
        announce(topology, { op: 'create', id: record.id, record });
        return reply.status(201).header('location', `/api/content/${record.id}`).send(record);
      },
    );

    app.get<{ Querystring: { cursor?: number; limit?: number; tag?: string } }>(
      '/api/content',
      {
        schema: {
          tags: ['content'],
          summary: 'List content at the origin, a page at a time',
          querystring: {
            type: 'object',
            properties: {
              cursor: { type: 'integer', minimum: 0, maximum: 9_007_199_254_740_991 },
              limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
              tag: { type: 'string', pattern: TAG_PATTERN },
            },
            additionalProperties: false,
          },
          response: errors,
        },
      },
      async (request) => {
        const page = await store().list({ afterId: request.query.cursor, limit: request.query.limit ?? 50, tag: request.query.tag });
        return { items: page.items, cursor: page.cursor ?? null };
      },
    );

    // A tag's list view through a region's cache. Not an edgeRoute: those key entries by path
    // parameters only, and the tag is a query parameter; so Fastify serves every read of it.
    const accessLog = topology.logger.isLevelEnabled('debug');
    app.get<{ Params: { region: string }; Querystring: { tag: string } }>(
      '/edge/:region/content',
      {
        schema: {
          tags: ['edge'],
          summary: "Read a tag's list view through one region's cache (L1 → L2 → origin)",
          description: 'Headers: X-Cache (HIT | MISS | STALE), X-Cache-Region, Age (seconds).',
          params: { type: 'object', properties: { region: { type: 'string' } }, required: ['region'] },
          querystring: {
            type: 'object',
            properties: { tag: { type: 'string', pattern: TAG_PATTERN } },
            required: ['tag'],
            additionalProperties: false,
          },
          response: { 200: contentListSchema, 400: errorSchema, 404: errorSchema, 503: errorSchema },
        },
        // As the edge routes: what the cache holds is served as it is (PUT /api/cache may have put it).
        serializerCompiler: () => (data) => jsonBody(data),
      },
      async (request, reply) => {
        const started = performance.now();
        const region = topology.region(request.params.region);
        const lookup = await region.cache.lookupOrLoad<ContentList>(contentListKey(request.query.tag));
        setCacheHeaders(reply, region.name, lookup, accessLog);
        topology.metrics.observeEdgeRequest(region.name, 'content-list', lookup.state, (performance.now() - started) / 1000);
        return lookup.value;
      },
    );

    app.get<{ Params: { id: number } }>(
      '/api/content/:id',
      { schema: { tags: ['content'], summary: 'Read content straight from the origin (no cache)', params: idParams, response: { 200: contentRecordSchema, ...errors } } },
      async (request) => {
        const record = await store().get(request.params.id);
        if (!record) throw new FreshcacheError('not_found', `no content with id ${request.params.id}`);
        return record;
      },
    );

    app.put<{ Params: { id: number }; Body: ContentPatch }>(
      '/api/content/:id',
      {
        schema: {
          tags: ['content'],
          summary: 'Change content at the origin (fields not given stay as they are)',
          params: idParams,
          body: { type: 'object', properties: fields, additionalProperties: false, minProperties: 1 },
          response: { 200: contentRecordSchema, ...errors },
        },
      },
      async (request) => {
        const { id } = request.params;
        const patch = request.body.tags === undefined ? request.body : { ...request.body, tags: checkTags(request.body.tags) };
        const record = await store().update(id, patch);
        if (!record) throw new FreshcacheError('not_found', `no content with id ${id}`);
        announce(topology, { op: 'update', id, record });
        return record;
      },
    );

    app.delete<{ Params: { id: number } }>(
      '/api/content/:id',
      { schema: { tags: ['content'], summary: 'Delete content at the origin', params: idParams, response: errors } },
      async (request, reply) => {
        const { id } = request.params;
        if (!(await store().delete(id))) throw new FreshcacheError('not_found', `no content with id ${id}`);
        announce(topology, { op: 'delete', id });
        return reply.status(204).send();
      },
    );
  };
}
