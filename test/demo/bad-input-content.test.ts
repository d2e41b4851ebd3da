import type { BadRequestCase } from '../http/http-kit.js';
import { JSON_HEADERS, createContent, describeBadRequests } from '../http/http-kit.js';

/** Bad requests to the origin's content API and to the edge: 4xx in the error shape, nothing changed. */

const json = (method: 'POST' | 'PUT', url: string, payload: string | object, extra: Partial<BadRequestCase> = {}) => ({
  method,
  url,
  payload,
  headers: typeof payload === 'string' ? JSON_HEADERS : undefined,
  ...extra,
});
const create = (payload: string | object, extra: Partial<BadRequestCase> = {}) => json('POST', '/api/content', payload, extra);
const update = (payload: string | object, extra: Partial<BadRequestCase> = {}) => json('PUT', '/api/content/2', payload, extra);

const cases: BadRequestCase[] = [
  // Create
  { name: 'create without a title', ...create({ slug: 'new' }), status: 400, code: 'bad_request' },
  { name: 'create with a bad slug', ...create({ slug: 'Not A Slug', title: 'x' }), status: 400, code: 'bad_request' },
  { name: 'create with a numeric title', ...create({ slug: 'new', title: 5 }), status: 400, code: 'bad_request' },
  { name: 'create with tags as a string', ...create({ slug: 'new', title: 'x', tags: 'news' }), status: 400, code: 'bad_request' },
  { name: 'create with a bad tag', ...create({ slug: 'new', title: 'x', tags: ['no spaces'] }), status: 400, code: 'invalid_tag' },
  { name: 'create with over 20 tags', ...create({ slug: 'new', title: 'x', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }), status: 400, code: 'bad_request' },
  { name: 'create with an unknown property', ...create({ slug: 'new', title: 'x', author: 'me' }), status: 400, code: 'bad_request' },
  { name: 'create with malformed JSON', ...create('{"slug": "new", '), status: 400, code: 'bad_request' },
  { name: 'create with a text/plain body', ...create(JSON.stringify({ slug: 'new', title: 'x' }), { headers: { 'content-type': 'text/plain' } }), status: 415, code: 'unsupported_media_type' },
  { name: 'create with a duplicate slug', ...create({ slug: 'one', title: 'again' }), status: 409, code: 'conflict' },
  { name: 'create with a NUL character in the title', ...create({ slug: 'new', title: 'a\u0000b' }), status: 400, code: 'bad_request' },
  { name: 'update with a NUL character in the body', ...update({ body: 'x\u0000' }), status: 400, code: 'bad_request' },
  // Update
  { name: 'update to a duplicate slug', ...update({ slug: 'one' }), status: 409, code: 'conflict' },
  { name: 'update with nothing', ...update({}), status: 400, code: 'bad_request' },
  { name: 'update body to null', ...update({ body: null }), status: 400, code: 'bad_request' },
  { name: 'update title to null', ...update({ title: null }), status: 400, code: 'bad_request' },
  { name: 'update with a bad tag', ...update({ tags: ['-dash-first'] }), status: 400, code: 'invalid_tag' },
  { name: 'update with an unknown property', ...update({ title: 'x', id: 7 }), status: 400, code: 'bad_request' },
  { name: 'update of an unknown id', ...json('PUT', '/api/content/424242', { title: 'x' }), status: 404, code: 'not_found' },
  { name: 'update of id "abc"', ...json('PUT', '/api/content/abc', { title: 'x' }), status: 400, code: 'bad_request' },
  // Read and delete by id
  ...['abc', '0', '-1', '1.5', '99999999999999999999'].flatMap((id): BadRequestCase[] => [
    { name: `GET content id ${id}`, method: 'GET', url: `/api/content/${id}`, status: 400, code: 'bad_request' },
    { name: `DELETE content id ${id}`, method: 'DELETE', url: `/api/content/${id}`, status: 400, code: 'bad_request' },
    { name: `edge read of id ${id}`, method: 'GET', url: `/edge/us-east/content/${id}`, status: 400, code: 'bad_request' },
  ]),
  { name: 'GET of an unknown content id', method: 'GET', url: '/api/content/424242', status: 404, code: 'not_found' },
  { name: 'DELETE of an unknown content id', method: 'DELETE', url: '/api/content/424242', status: 404, code: 'not_found' },
  { name: 'content list limit=0', method: 'GET', url: '/api/content?limit=0', status: 400, code: 'bad_request' },
  { name: 'content list cursor=abc', method: 'GET', url: '/api/content?cursor=abc', status: 400, code: 'bad_request' },
  { name: 'content list with a cursor beyond bigint', method: 'GET', url: '/api/content?cursor=100000000000000000000', status: 400, code: 'bad_request' },
  { name: 'content list with a bad tag', method: 'GET', url: '/api/content?tag=a%20b', status: 400, code: 'bad_request' },
  // Edge
  { name: 'edge read in an unknown region', method: 'GET', url: '/edge/mars/content/1', status: 404, code: 'unknown_region' },
  { name: 'edge read of an unknown id', method: 'GET', url: '/edge/us-east/content/424242', status: 404, code: 'not_found' },
  { name: 'list view without a tag', method: 'GET', url: '/edge/us-east/content', status: 400, code: 'bad_request' },
  { name: 'list view with a bad tag', method: 'GET', url: '/edge/us-east/content?tag=a%20b', status: 400, code: 'bad_request' },
  { name: 'list view with an empty tag', method: 'GET', url: '/edge/us-east/content?tag=', status: 400, code: 'bad_request' },
  { name: 'list view with a tag over 128 characters', method: 'GET', url: `/edge/us-east/content?tag=${'t'.repeat(129)}`, status: 400, code: 'bad_request' },
  { name: 'list view with an unknown query parameter', method: 'GET', url: '/edge/us-east/content?tag=news&limit=5', status: 400, code: 'bad_request' },
  { name: 'list view in an unknown region', method: 'GET', url: '/edge/mars/content?tag=news', status: 404, code: 'unknown_region' },
  { name: 'edge read with a region name over the router limit', method: 'GET', url: `/edge/${'r'.repeat(2000)}/content/1`, status: 400, code: 'invalid_key' },
];

describeBadRequests('bad requests to /api/content and /edge', cases, async (app, topology) => {
  await createContent(app, topology, { slug: 'one', title: 'One', tags: ['news'] });
  await createContent(app, topology, { slug: 'two', title: 'Two', body: 'text' });
});
