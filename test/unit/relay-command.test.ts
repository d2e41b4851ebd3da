import { describe, expect, it } from 'vitest';
import { configFilesForFile, runCli } from '../testkit/cli-process.js';
import { postgresForFile } from '../testkit/postgres-server.js';
import { redisForFile } from '../testkit/redis-server.js';

const runRelay = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli('relay', args, env);

describe('freshcache relay', () => {
  const postgres = postgresForFile();
  const redis = redisForFile();
  const files = configFilesForFile('freshcache-relay-');
  const configFile = (name: string, config: object) => files.write(name, JSON.stringify(config));

  it('is named in the CLI help, and its own help says it runs the relay role whatever the file says', async () => {
    const help = runCli('--help', []);
    expect((await help.exit()).code).toBe(0);
    expect(help.stdout()).toMatch(/freshcache relay --config FILE +run a relay candidate only/);

    const own = runRelay(['--help']);
    expect((await own.exit()).code).toBe(0);
    expect(own.stdout()).toMatch(/serves no\s+region, whatever FILE's roles say/);
  });

  // A relay on embedded parts would relay to itself only: no other process reads its log.
  it.each([
    ['an embedded (PGlite) origin', 'pglite.json', { port: 0, seed: false }, /relay needs a postgres origin \(.* has pglite/],
    ['a memory log', 'memory-log.json', { port: 0, seed: false, origin: { kind: 'postgres', url: 'postgres://nobody@127.0.0.1:1/none' } }, /relay needs a redis log \(.* has memory/],
  ])('with %s exits non-zero with a clear message and no stack trace', async (_what, name, config, message) => {
    const relay = runRelay(['--config', await configFile(name, config)]);
    const { code } = await relay.exit();
    expect(code).not.toBe(0);
    expect(relay.stderr()).toMatch(message);
    expect(relay.stderr()).not.toMatch(/\n\s+at /);
    expect(relay.stdout()).not.toMatch(/serving/);
  });

  it('on PostgreSQL and Redis runs the relay alone, leads (a second candidate stands by), answers /ready, refuses cache reads, and stops cleanly on SIGTERM', async () => {
    const file = await configFile('relay.json', {
      port: 0,
      seed: false,
      // The file asks for a region and no relay; the command runs the relay and no region.
      roles: { regions: ['us-east'], relay: false },
      origin: { kind: 'postgres', url: await postgres().createDatabase('relay_command') },
      demo: true, // something to capture: the demo's table and rule
      log: { kind: 'redis', redis: { url: redis().server.url } },
    });
    const relay = runRelay(['--config', file]);
    const [, state, url] = await relay.untilStdout(/serving relay \(a relay candidate, (.*)\) at (http:\/\/\S+)/);
    expect(state).toBe('leading'); // the only candidate takes the lock

    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(200);

    const info = (await (await fetch(`${url}/api/info`)).json()) as { roles: unknown };
    expect(info.roles).toEqual({ regions: [], relay: true });

    const read = await fetch(`${url}/api/cache/k`);
    expect(read.status).toBe(400);
    expect(((await read.json()) as { error: { code: string } }).error.code).toBe('no_region');

    // A second candidate on the same database stands by while the first holds the lock.
    const standby = runRelay(['--config', file], { FRESHCACHE_STOP_WITH_PARENT: '1' });
    const [, standbyState] = await standby.untilStdout(/serving relay \(a relay candidate, (.*)\) at http/);
    expect(standbyState).toBe('standing by');
    standby.child.stdin!.end(); // what the kernel does to the pipe when the parent dies
    expect(await standby.exit()).toEqual({ code: 0, signal: null });

    relay.child.kill('SIGTERM');
    expect(await relay.exit()).toEqual({ code: 0, signal: null });
  });
});
