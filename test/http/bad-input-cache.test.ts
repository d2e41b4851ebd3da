import { expect } from 'vitest';
import type { BadRequestCase } from './http-kit.js';
import { JSON_HEADERS, describeBadRequests } from './http-kit.js';

/** Bad requests to the key-value cache: every one a 4xx in the error shape, and nothing lost. */

const put = (payload: string | object, extra: Partial<BadRequestCase> = {}) => ({
  method: 'PUT' as const,
  url: '/api/cache/k',
  payload,
  headers: typeof payload === 'string' ? JSON_HEADERS : undefined,
  ...extra,
});
const enc = encodeURIComponent;
const MiB = 1024 * 1024;
const deeplyNested = `{"value":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;

const cases: BadRequestCase[] = [
  // Malformed bodies
  { name: 'malformed JSON', ...put('{"value": 1'), status: 400, code: 'bad_request' },
  { name: 'not JSON at all', ...put('{bad'), status: 400, code: 'bad_request' },
  { name: 'empty JSON body', ...put(''), status: 400, code: 'bad_request' },
  { name: 'no body at all', method: 'PUT', url: '/api/cache/k', status: 400, code: 'bad_request' },
  { name: 'a JSON array as body', ...put('[1, 2]'), status: 400, code: 'bad_request' },
  { name: 'JSON null as body', ...put('null'), status: 400, code: 'bad_request' },
  { name: 'a JSON string as body', ...put('"value"'), status: 400, code: 'bad_request' },
  { name: 'a prototype-polluting body', ...put('{"value": 1, "__proto__": {"polluted": true}}'), status: 400, code: 'bad_request' },
  // Wrong types: refused, never coerced
  { name: 'value missing', ...put({ ttl: 5 }), status: 400, code: 'bad_request' },
  { name: 'value null', ...put({ value: null }), status: 400, code: 'bad_request' },
  { name: 'ttl "abc"', ...put({ value: 2, ttl: 'abc' }), status: 400, code: 'bad_request' },
  { name: 'ttl as a numeric string "5"', ...put({ value: 2, ttl: '5' }), status: 400, code: 'bad_request' },
  { name: 'ttl true', ...put({ value: 2, ttl: true }), status: 400, code: 'bad_request' },
  { name: 'ttl as an array [5]', ...put({ value: 2, ttl: [5] }), status: 400, code: 'bad_request' },
  { name: 'tags as a string', ...put({ value: 2, tags: 't2' }), status: 400, code: 'bad_request' },
  { name: 'tags of numbers', ...put({ value: 2, tags: [5] }), status: 400, code: 'bad_request' },
  { name: 'a tag with a space', ...put({ value: 2, tags: ['bad tag'] }), status: 400, code: 'invalid_tag' },
  { name: 'an empty tag', ...put({ value: 2, tags: [''] }), status: 400, code: 'invalid_tag' },
  { name: 'a tag of 129 characters', ...put({ value: 2, tags: ['t'.repeat(129)] }), status: 400, code: 'invalid_tag' },
  { name: 'over 64 tags', ...put({ value: 2, tags: Array.from({ length: 65 }, (_, i) => `t${i}`) }), status: 400, code: 'bad_request' },
  { name: 'an unknown property', ...put({ value: 2, expires: 5 }), status: 400, code: 'bad_request' },
  { name: 'an unknown query parameter', ...put({ value: 2 }, { url: '/api/cache/k?ttl=5' }), status: 400, code: 'bad_request' },
  { name: 'a value nested 10 000 deep', ...put(deeplyNested), status: 400, code: 'bad_request' },
  // TTL
  { name: 'negative ttl', ...put({ value: 2, ttl: -1 }), status: 400, code: 'invalid_ttl' },
  { name: 'zero ttl', ...put({ value: 2, ttl: 0 }), status: 400, code: 'invalid_ttl' },
  { name: 'ttl over the maximum', ...put({ value: 2, ttl: 10 * 86_400 }), status: 400, code: 'invalid_ttl' },
  { name: 'negative staleAfter', ...put({ value: 2, staleAfter: -1 }), status: 400, code: 'invalid_ttl' },
  // Sizes
  { name: 'a value over 1 MiB', ...put({ value: 'x'.repeat(MiB) }), status: 413, code: 'value_too_large' },
  { name: 'a body over the body limit', ...put({ value: 'x'.repeat(2 * MiB) }), status: 413, code: 'body_too_large' },
  // Content types
  { name: 'text/plain body', ...put(JSON.stringify({ value: 2 }), { headers: { 'content-type': 'text/plain' } }), status: 415, code: 'unsupported_media_type' },
  { name: 'XML body', ...put('<value>2</value>', { headers: { 'content-type': 'application/xml' } }), status: 415, code: 'unsupported_media_type' },
  { name: 'form body', ...put('value=2', { headers: { 'content-type': 'application/x-www-form-urlencoded' } }), status: 415, code: 'unsupported_media_type' },
  // Keys
  { name: 'key of 513 ASCII bytes', ...put({ value: 2 }, { url: `/api/cache/${'a'.repeat(513)}` }), status: 400, code: 'invalid_key' },
  { name: 'key of 171 × "€" (171 chars, 513 bytes)', ...put({ value: 2 }, { url: `/api/cache/${enc('€'.repeat(171))}` }), status: 400, code: 'invalid_key' },
  { name: 'key of 257 × "é" (257 chars, 514 bytes)', ...put({ value: 2 }, { url: `/api/cache/${enc('é'.repeat(257))}` }), status: 400, code: 'invalid_key' },
  { name: 'key of 129 emoji (258 UTF-16 units, 516 bytes)', ...put({ value: 2 }, { url: `/api/cache/${enc('😀'.repeat(129))}` }), status: 400, code: 'invalid_key' },
  { name: 'key of 2000 bytes (over the router limit)', ...put({ value: 2 }, { url: `/api/cache/${'a'.repeat(2000)}` }), status: 400, code: 'invalid_key' },
  { name: 'key with broken percent-encoding', ...put({ value: 2 }, { url: '/api/cache/%E0%A4%A' }), status: 400, code: 'bad_request' },
  { name: 'GET of a 513-byte key', method: 'GET', url: `/api/cache/${enc('€'.repeat(171))}`, status: 400, code: 'invalid_key' },
  { name: 'DELETE of a 513-byte key', method: 'DELETE', url: `/api/cache/${enc('€'.repeat(171))}`, status: 400, code: 'invalid_key' },
  { name: 'DELETE of an empty key', method: 'DELETE', url: '/api/cache/', status: 400, code: 'invalid_key' },
  // Regions
  { name: 'PUT to an unknown region', ...put({ value: 2 }, { url: '/api/cache/k?region=mars' }), status: 404, code: 'unknown_region' },
  { name: 'GET from an unknown region', method: 'GET', url: '/api/cache/k?region=mars', status: 404, code: 'unknown_region' },
  { name: 'DELETE in an unknown region', method: 'DELETE', url: '/api/cache/k?region=mars', status: 404, code: 'unknown_region' },
  { name: 'key explorer of an unknown region', method: 'GET', url: '/api/cache?region=mars', status: 404, code: 'unknown_region' },
  { name: 'key explorer with region given twice', method: 'GET', url: '/api/cache?region=us-east&region=eu-west', status: 400, code: 'bad_request' },
  // Key explorer
  { name: 'key explorer limit=0', method: 'GET', url: '/api/cache?limit=0', status: 400, code: 'bad_request' },
  { name: 'key explorer limit=abc', method: 'GET', url: '/api/cache?limit=abc', status: 400, code: 'bad_request' },
  { name: 'key explorer limit=1001', method: 'GET', url: '/api/cache?limit=1001', status: 400, code: 'bad_request' },
  { name: 'key explorer with a bad tag', method: 'GET', url: '/api/cache?tag=bad%20tag', status: 400, code: 'bad_request' },
  { name: 'key explorer with an unknown parameter', method: 'GET', url: '/api/cache?sort=asc', status: 400, code: 'bad_request' },
  // Not found
  { name: 'GET of a key never stored', method: 'GET', url: '/api/cache/never', status: 404, code: 'not_found' },
];

describeBadRequests('bad requests to /api/cache', cases, async (app) => {
  for (const region of ['us-east', 'eu-west']) {
    const res = await app.inject({ method: 'PUT', url: `/api/cache/k?region=${region}`, payload: { value: { n: 1 }, tags: ['t1'], ttl: 3600 } });
    expect(res.statusCode, res.body).toBe(201);
  }
  const multibyte = await app.inject({ method: 'PUT', url: `/api/cache/${enc('é'.repeat(200))}`, payload: { value: 'accent', ttl: 3600 } });
  expect(multibyte.statusCode, multibyte.body).toBe(201);
});
