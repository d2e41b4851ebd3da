import { describe, expect, it } from 'vitest';
import { parseDelays, parseTargets, resolveDelays, resolveTargets } from '../../packages/freshcache-server/src/tools/load/load-targets.js';

/** What each URL answers, as the targets' APIs would (undefined: not a 2xx JSON answer). */
const answers = (byUrl: Record<string, unknown>) => async (url: string) => byUrl[url];

describe('load targets', () => {
  it('parses URLs, each optionally named by its region, and refuses what is not an http URL', () => {
    expect(parseTargets('us-east=http://a:1, http://b:2/prefix/').map((t) => [t.region, t.url.href])).toEqual([
      ['us-east', 'http://a:1/'],
      [undefined, 'http://b:2/prefix/'],
    ]);
    expect(() => parseTargets('ftp://a')).toThrow(/not an http\(s\) URL/);
    expect(() => parseTargets('us-east=nope')).toThrow(/"nope" is not a URL/);
    expect(() => parseTargets(' , ')).toThrow(/at least one URL/);
    expect(parseDelays('us-east=100,eu-west=300.5')).toEqual(new Map([['us-east', 100], ['eu-west', 300.5]]));
    expect(() => parseDelays('us-east:100')).toThrow(/not region=ms/);
  });

  it('reads a named region; the regions /api/info says a target serves; else the region the read path names, or the host', async () => {
    const get = answers({
      'http://demo:1/api/info': { regions: ['us-east', 'eu-west'], roles: { regions: ['us-east', 'eu-west'] } },
      'http://node:2/api/info': { regions: ['us-east', 'eu-west'], roles: { regions: ['eu-west'] } },
    });
    const targets = await resolveTargets(parseTargets('http://demo:1,http://node:2,ap=http://named:3/base,http://other:4'), '/edge/{region}/content/{id}', get);
    expect(targets.map((t) => `${t.region} ${t.origin}${t.pathTemplate}`)).toEqual([
      'us-east http://demo:1/edge/us-east/content/{id}',
      'eu-west http://demo:1/edge/eu-west/content/{id}',
      'eu-west http://node:2/edge/eu-west/content/{id}',
      'ap http://named:3/base/edge/ap/content/{id}',
      'other:4 http://other:4/edge/other%3A4/content/{id}',
    ]);
    const [fromPath] = await resolveTargets(parseTargets('http://plain:5'), '/edge/us-east/content/{id}', get);
    expect(fromPath!.region).toBe('us-east');
  });

  it("takes each region's delay from --delay, else /api/regions (delay plus jitter; the TTL in ttl mode), and names the unknown ones", async () => {
    const get = answers({
      'http://demo:1/api/regions': {
        items: [
          { name: 'us-east', delayMs: 100, jitter: 0.1, mode: 'cdc', ttlMs: 60_000 },
          { name: 'eu-west', delayMs: 300, jitter: 0, mode: 'ttl', ttlMs: 5_000 },
          { name: 'ap-south', delayMs: 600, jitter: 0, mode: 'cdc' },
        ],
      },
    });
    const targets = ['us-east', 'eu-west', 'ap-south'].map((region) => ({ region, origin: 'http://demo:1', pathTemplate: '/{id}' }));
    targets.push({ region: 'elsewhere', origin: 'http://other:2', pathTemplate: '/{id}' });
    const { delays, unknown } = await resolveDelays(targets, new Map([['ap-south', 50]]), get);
    expect(delays.get('us-east')).toBeCloseTo(110, 9);
    expect(Object.fromEntries([...delays].filter(([region]) => region !== 'us-east'))).toEqual({ 'eu-west': 5_000, 'ap-south': 50, elsewhere: 0 });
    expect(unknown).toEqual(['elsewhere']);
  });
});
