import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_HEADERS, expectError, sharedApp } from './http-kit.js';

/** /api/rebalance on an embedded deployment (L2 and log in memory): it checks its input, and has no slots to move. */
let shared: Awaited<ReturnType<typeof sharedApp>>;
beforeAll(async () => {
  shared = await sharedApp();
});
afterAll(() => shared.close());

const post = (body: object) => shared.app.inject({ method: 'POST', url: '/api/rebalance', headers: JSON_HEADERS, payload: JSON.stringify(body) });

describe('/api/rebalance without a Redis Cluster', () => {
  it('answers 400 bad_request to an unknown action, a missing or extra node, or an unknown field', async () => {
    for (const body of [{ action: 'explode' }, {}, { action: 'add-node' }, { action: 'remove-node' }, { action: 'rebalance', node: '127.0.0.1:7000' }, { action: 'rebalance', force: true }, { action: 'add-node', node: '' }]) {
      expectError(await post(body), 400, 'bad_request');
    }
  });

  it('answers 400 bad_request to a valid request, saying there is no Redis Cluster, and shows that nothing ran', async () => {
    const res = await post({ action: 'rebalance' });
    expectError(res, 400, 'bad_request');
    expect(res.json().error.message).toContain('not on a Redis Cluster');
    expectError(await post({ action: 'add-node', node: '127.0.0.1:7000' }), 400, 'bad_request');
    const status = await shared.app.inject({ method: 'GET', url: '/api/rebalance' });
    expect(status.statusCode).toBe(200);
    expect(status.json()).toEqual({ running: false, progress: null });
  });
});
