import { expect } from 'vitest';
import type { BadRequestCase } from './http-kit.js';
import { JSON_HEADERS, describeBadRequests } from './http-kit.js';

/** Bad purges: refused with a 4xx in the error shape, and none of them publishes anything. */

const post = (payload: string | object, extra: Partial<BadRequestCase> = {}) => ({
  method: 'POST' as const,
  url: '/api/invalidate',
  payload,
  headers: typeof payload === 'string' ? JSON_HEADERS : undefined,
  ...extra,
});

const cases: BadRequestCase[] = [
  { name: 'empty invalidation {}', ...post({}), status: 400, code: 'empty_invalidation' },
  { name: 'only empty lists', ...post({ keys: [], tags: [], prefixes: [] }), status: 400, code: 'empty_invalidation' },
  { name: 'a dry run of nothing', ...post({ dryRun: true }), status: 400, code: 'empty_invalidation' },
  ...['a*b', '*', '', 'user:[0-9]', 'user:?', 'user:**', '*user'].map(
    (pattern): BadRequestCase => ({ name: `prefix pattern ${JSON.stringify(pattern)}`, ...post({ prefixes: [pattern] }), status: 400, code: 'invalid_pattern' }),
  ),
  { name: 'a bad pattern next to a good one', ...post({ prefixes: ['user:*', 'a*b'] }), status: 400, code: 'invalid_pattern' },
  { name: 'a prefix over 512 bytes', ...post({ prefixes: ['€'.repeat(171)] }), status: 400, code: 'invalid_pattern' },
  { name: 'an empty key', ...post({ keys: [''] }), status: 400, code: 'invalid_key' },
  { name: 'a key of 513 bytes', ...post({ keys: ['€'.repeat(171)] }), status: 400, code: 'invalid_key' },
  { name: 'a tag with a space', ...post({ tags: ['bad tag'] }), status: 400, code: 'invalid_tag' },
  { name: 'keys as a string', ...post({ keys: 'k' }), status: 400, code: 'bad_request' },
  { name: 'keys of numbers', ...post({ keys: [1] }), status: 400, code: 'bad_request' },
  { name: 'tags as a string', ...post({ tags: 't1' }), status: 400, code: 'bad_request' },
  { name: 'dryRun "yes"', ...post({ keys: ['k'], dryRun: 'yes' }), status: 400, code: 'bad_request' },
  { name: 'an unknown property', ...post({ keys: ['k'], regions: ['us-east'] }), status: 400, code: 'bad_request' },
  { name: 'over 1000 keys', ...post({ keys: Array.from({ length: 1001 }, (_, i) => `k${i}`) }), status: 400, code: 'bad_request' },
  { name: 'malformed JSON', ...post('{"keys": ["k"]'), status: 400, code: 'bad_request' },
  { name: 'a JSON array as body', ...post('["k"]'), status: 400, code: 'bad_request' },
  { name: 'text/plain body', ...post(JSON.stringify({ keys: ['k'] }), { headers: { 'content-type': 'text/plain' } }), status: 415, code: 'unsupported_media_type' },
  { name: 'a body over the body limit', ...post({ keys: ['k'], tags: ['x'.repeat(2 * 1024 * 1024)] }), status: 413, code: 'body_too_large' },
  { name: 'invalidation id "abc"', method: 'GET', url: '/api/invalidations/abc', status: 400, code: 'bad_request' },
  { name: 'invalidation id 0', method: 'GET', url: '/api/invalidations/0', status: 400, code: 'bad_request' },
  { name: 'invalidation id -1', method: 'GET', url: '/api/invalidations/-1', status: 400, code: 'bad_request' },
  { name: 'unknown invalidation id', method: 'GET', url: '/api/invalidations/424242', status: 404, code: 'not_found' },
  { name: 'invalidations limit=0', method: 'GET', url: '/api/invalidations?limit=0', status: 400, code: 'bad_request' },
];

describeBadRequests('bad requests to /api/invalidate and /api/invalidations', cases, async (app) => {
  const stored = await app.inject({ method: 'PUT', url: '/api/cache/k', payload: { value: 'v', tags: ['t1'], ttl: 3600 } });
  expect(stored.statusCode, stored.body).toBe(201);
  const purge = await app.inject({ method: 'POST', url: '/api/invalidate', payload: { keys: ['other'] } });
  expect(purge.statusCode, purge.body).toBe(202);
});
