import { afterAll, beforeAll, describe, it } from 'vitest';
import { JSON_HEADERS, expectError, sharedApp } from './http-kit.js';

/** Outside a `freshcache up` deployment, the chaos routes exist but answer 404 (the Cluster page hides its actions). */
let shared: Awaited<ReturnType<typeof sharedApp>>;
beforeAll(async () => {
  shared = await sharedApp();
});
afterAll(() => shared.close());

describe('/api/chaos on a deployment that is not an up one', () => {
  it('answers 404 not_found to a listing and to a valid action', async () => {
    expectError(await shared.app.inject({ method: 'GET', url: '/api/chaos' }), 404, 'not_found');
    const payload = JSON.stringify({ action: 'kill', target: 'us-east-1' });
    expectError(await shared.app.inject({ method: 'POST', url: '/api/chaos', headers: JSON_HEADERS, payload }), 404, 'not_found');
  });

  it('answers 400 bad_request to an unknown action or a malformed target', async () => {
    for (const body of [{ action: 'explode', target: 'us-east-1' }, { action: 'kill', target: '../x' }, { action: 'kill' }, { action: 'kill', target: 'a', extra: 1 }]) {
      expectError(await shared.app.inject({ method: 'POST', url: '/api/chaos', headers: JSON_HEADERS, payload: JSON.stringify(body) }), 400, 'bad_request');
    }
  });
});
