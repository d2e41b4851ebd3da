import { describe, expect, it, onTestFinished } from 'vitest';
import type { ConfigInput } from '../../packages/freshcache-server/src/config.js';
import { resolveConfig } from '../../packages/freshcache-server/src/config.js';
import { sharedApp } from './http-kit.js';

/**
 * Behind nginx (as `freshcache up` runs its regions) every request comes from the proxy: the
 * client's address is in X-Forwarded-For, which counts only when the proxy is configured.
 */
async function clientIps(config: ConfigInput, remoteAddresses: string[]): Promise<string[]> {
  const { app, close } = await sharedApp({ config });
  onTestFinished(close);
  // request.ip is what per-IP limits and the audit read.
  app.get('/test/ip', (request) => ({ ip: request.ip }));
  const ips: string[] = [];
  for (const remoteAddress of remoteAddresses) {
    const res = await app.inject({ method: 'GET', url: '/test/ip', remoteAddress, headers: { 'x-forwarded-for': '203.0.113.7' } });
    ips.push((res.json() as { ip: string }).ip);
  }
  return ips;
}

describe('trustProxy', () => {
  it('takes the client address from X-Forwarded-For sent by a configured proxy', async () => {
    const ips = await clientIps({ trustProxy: ['127.0.0.1', '10.0.0.0/8'] }, ['127.0.0.1', '10.1.2.3', '198.51.100.9']);
    // The last one is not a configured proxy: its header could name any address.
    expect(ips).toEqual(['203.0.113.7', '203.0.113.7', '198.51.100.9']);
  });

  it('ignores X-Forwarded-For by default', async () => {
    expect(await clientIps({}, ['127.0.0.1'])).toEqual(['127.0.0.1']);
  });

  it('rejects an entry that is not an address, a CIDR or loopback', () => {
    for (const bad of ['nginx', '10.0.0.0/33', '127.0.0.1/8/1', '']) {
      expect(() => resolveConfig({ trustProxy: [bad] })).toThrow(/trustProxy/);
    }
    expect(resolveConfig({ trustProxy: ['loopback', '::1', '192.168.0.0/16'] }).trustProxy).toEqual(['loopback', '::1', '192.168.0.0/16']);
  });
});
