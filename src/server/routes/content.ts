import type { FastifyPluginAsync } from 'fastify';
import { FreshcacheError } from '../../engine/errors.js';
import type { ContentInput, ContentPatch } from '../../seams/origin-store.js';
import type { AppOptions } from '../app.js';
import { errorSchema } from '../error-handling.js';
import { TAG_PATTERN, checkTags, contentRecordSchema } from '../validation.js';

const fields = {
  slug: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,99}$' },
  title: { type: 'string', minLength: 1, maxLength: 200 },
  body: { type: 'string', maxLength: 100_000 },
  tags: { type: 'array', items: { type: 'string', description: `Pattern ${TAG_PATTERN}` }, maxItems: 20 },
} as const;

const idParams = { type: 'object', properties: { id: { type: 'integer', minimum: 1, maximum: 9_007_199_254_740_991 } }, required: ['id'] } as const;

export const contentRoutes: FastifyPluginAsync<AppOptions> = async (app, { topology }) => {
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
      const record = await topology.createContent({ ...request.body, tags: checkTags(request.body.tags ?? []) });
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
      const page = await topology.origin.list({ afterId: request.query.cursor, limit: request.query.limit ?? 50, tag: request.query.tag });
      return { items: page.items, cursor: page.cursor ?? null };
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/content/:id',
    { schema: { tags: ['content'], summary: 'Read content straight from the origin (no cache)', params: idParams, response: { 200: contentRecordSchema, ...errors } } },
    async (request) => {
      const record = await topology.origin.get(request.params.id);
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
      const patch = request.body.tags === undefined ? request.body : { ...request.body, tags: checkTags(request.body.tags) };
      const record = await topology.updateContent(request.params.id, patch);
      if (!record) throw new FreshcacheError('not_found', `no content with id ${request.params.id}`);
      return record;
    },
  );

  app.delete<{ Params: { id: number } }>(
    '/api/content/:id',
    { schema: { tags: ['content'], summary: 'Delete content at the origin', params: idParams, response: errors } },
    async (request, reply) => {
      if (!(await topology.deleteContent(request.params.id))) throw new FreshcacheError('not_found', `no content with id ${request.params.id}`);
      return reply.status(204).send();
    },
  );
};
