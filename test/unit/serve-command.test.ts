import { describe, expect, it } from 'vitest';
import { configFilesForFile, runCli } from '../testkit/cli-process.js';

const runServe = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli('serve', args, env);

describe('freshcache serve', () => {
  const files = configFilesForFile('freshcache-serve-');
  const configFile = files.write;

  it('without --config exits non-zero and says it needs one', async () => {
    const serve = runServe([]);
    const { code } = await serve.exit();
    expect(code).not.toBe(0);
    expect(serve.stderr()).toMatch(/serve needs --config FILE/);
    expect(serve.stdout()).not.toMatch(/serving/);
  });

  // Rules across settings are checked after the file is read, so their message names the rule, not the file.
  it.each([
    ['a schema error', 'typo.json', '{ "port": 0, "prot": 3000 }', / is invalid: \/ must NOT have additional property "prot"/, true],
    ['a file that is not JSON', 'broken.json', 'port: 0', / is not valid JSON/, true],
    ['a rule across settings', 'wal.json', '{ "port": 0, "capture": { "kind": "wal" } }', /invalid configuration: capture "wal" needs a postgres origin/, false],
  ])('with %s exits non-zero with the validation message on stderr', async (_what, name, text, message, namesFile) => {
    const file = await configFile(name, text);
    const serve = runServe(['--config', file]);
    const { code } = await serve.exit();
    expect(code).not.toBe(0);
    expect(serve.stderr()).toMatch(message);
    if (namesFile) expect(serve.stderr()).toContain(file);
    expect(serve.stdout()).not.toMatch(/serving/);
  });

  it('with a missing file exits non-zero, naming it', async () => {
    const file = files.path('missing.json');
    const serve = runServe(['--config', file]);
    expect((await serve.exit()).code).not.toBe(0);
    expect(serve.stderr()).toContain(`cannot read config file ${file}`);
  });

  it('with an embedded config serves every role, answers /health, and stops cleanly on SIGTERM', async () => {
    const file = await configFile('embedded.json', JSON.stringify({ port: 0, seed: false }));
    const serve = runServe(['--config', file]);
    const [, roles, url] = await serve.untilStdout(/serving (.*) at (http:\/\/\S+)/);
    expect(roles).toBe('us-east, eu-west, ap-south, relay');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    serve.child.kill('SIGTERM');
    expect(await serve.exit()).toEqual({ code: 0, signal: null });
    expect(serve.stderr()).toBe('');
  });

  it('started with FRESHCACHE_STOP_WITH_PARENT, stops cleanly when its parent goes (its stdin closes)', async () => {
    const file = await configFile('orphan.json', JSON.stringify({ port: 0, seed: false }));
    const serve = runServe(['--config', file], { FRESHCACHE_STOP_WITH_PARENT: '1' });
    await serve.untilStdout(/serving .* at http/);
    serve.child.stdin!.end(); // what the kernel does to the pipe when the parent dies, even by SIGKILL
    expect(await serve.exit()).toEqual({ code: 0, signal: null });
  });
});
