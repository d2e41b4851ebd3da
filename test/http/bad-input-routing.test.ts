import type { BadRequestCase } from './http-kit.js';
import { JSON_HEADERS, describeBadRequests } from './http-kit.js';

/** Bad region changes, unknown routes and wrong methods: 4xx in the error shape, nothing changed. */

const patch = (payload: string | object, extra: Partial<BadRequestCase> = {}) => ({
  method: 'PATCH' as const,
  url: '/api/regions/us-east',
  payload,
  headers: typeof payload === 'string' ? JSON_HEADERS : undefined,
  ...extra,
});

const cases: BadRequestCase[] = [
  { name: 'PATCH of an unknown region', ...patch({ strategy: 'lazy' }, { url: '/api/regions/mars' }), status: 404, code: 'unknown_region' },
  { name: 'unknown strategy', ...patch({ strategy: 'sometimes' }), status: 400, code: 'bad_request' },
  { name: 'unknown mode', ...patch({ mode: 'push' }), status: 400, code: 'bad_request' },
  { name: 'negative delay', ...patch({ delayMs: -1 }), status: 400, code: 'bad_request' },
  { name: 'delay "abc"', ...patch({ delayMs: 'abc' }), status: 400, code: 'bad_request' },
  { name: 'delay true', ...patch({ delayMs: true }), status: 400, code: 'bad_request' },
  { name: 'delay "250" as a string', ...patch({ delayMs: '250' }), status: 400, code: 'bad_request' },
  { name: 'maxStaleMs null', ...patch({ maxStaleMs: null }), status: 400, code: 'bad_request' },
  { name: 'jitter over 1', ...patch({ jitter: 2 }), status: 400, code: 'bad_request' },
  { name: 'zero ttlMs', ...patch({ ttlMs: 0 }), status: 400, code: 'bad_request' },
  { name: 'no settings', ...patch({}), status: 400, code: 'bad_request' },
  { name: 'renaming a region', ...patch({ name: 'eu-east' }), status: 400, code: 'bad_request' },
  { name: 'malformed JSON', ...patch('{"strategy": '), status: 400, code: 'bad_request' },
  { name: 'text/plain body', ...patch(JSON.stringify({ strategy: 'lazy' }), { headers: { 'content-type': 'text/plain' } }), status: 415, code: 'unsupported_media_type' },
  // Unknown routes, and known paths with the wrong method (404, as docs/api.md says)
  { name: 'unknown route', method: 'GET', url: '/nope', status: 404, code: 'not_found' },
  { name: 'unknown route under /api', method: 'GET', url: '/api/nope?x=1', status: 404, code: 'not_found' },
  { name: 'POST /health', method: 'POST', url: '/health', payload: {}, status: 404, code: 'not_found' },
  { name: 'DELETE /api/regions', method: 'DELETE', url: '/api/regions', status: 404, code: 'not_found' },
  { name: 'PUT /api/regions/us-east', method: 'PUT', url: '/api/regions/us-east', payload: { strategy: 'lazy' }, status: 404, code: 'not_found' },
  { name: 'POST /api/cache/k', method: 'POST', url: '/api/cache/k', payload: { value: 1 }, status: 404, code: 'not_found' },
  { name: 'PATCH /api/cache/k', method: 'PATCH', url: '/api/cache/k', payload: { value: 1 }, status: 404, code: 'not_found' },
  { name: 'GET /api/invalidate', method: 'GET', url: '/api/invalidate', status: 404, code: 'not_found' },
  { name: 'DELETE /api/invalidations/1', method: 'DELETE', url: '/api/invalidations/1', status: 404, code: 'not_found' },
  { name: 'PATCH /api/content/1', method: 'PATCH', url: '/api/content/1', payload: { title: 'x' }, status: 404, code: 'not_found' },
  { name: 'POST /edge/us-east/content/1', method: 'POST', url: '/edge/us-east/content/1', payload: {}, status: 404, code: 'not_found' },
];

describeBadRequests('bad region changes, unknown routes, wrong methods', cases, async () => {});
