import { describe, expect, it } from 'vitest';
import { testApp } from './testkit/test-topology.js';

describe('smoke', () => {
  it('serves health', async () => {
    const { app } = await testApp();
    const res = await app.inject('/health');
    expect(res.json()).toEqual({ status: 'ok' });
  });
});
