import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';

/** `freshcache serve` as a supervisor runs it: the TypeScript sources through tsx, as test/testkit/deployment.ts does. */
const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
/** Starting tsx and PGlite takes a few seconds; this only turns a hang into a failure with the output. */
const GUARD_MS = 20_000;

/** The environment without FRESHCACHE_* overrides a developer may have set, so the file alone decides. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FRESHCACHE_')));
}

function runServe(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', ...args], { env: { ...cleanEnv(), ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  const changed = () => {
    for (const wake of waiters.splice(0)) wake();
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    changed();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    changed();
  });
  const transcript = () => `stdout:\n${stdout}\nstderr:\n${stderr}`;
  // 'close', not 'exit': by then both pipes are drained, so the output is complete.
  let ended = false;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveClose) =>
    child.once('close', (code, signal) => {
      ended = true;
      changed();
      resolveClose({ code, signal });
    }),
  );
  const guard = <T>(promise: Promise<T>, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`serve: no ${what} within ${GUARD_MS} ms\n${transcript()}`)), GUARD_MS);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  };
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    /** Resolves with the exit once the process has ended and its output is read. */
    exit: () => guard(closed, 'exit'),
    /** Resolves with the match once stdout matches `pattern`; fails if the process ends first. */
    untilStdout: (pattern: RegExp) =>
      guard(
        (async () => {
          for (;;) {
            const match = pattern.exec(stdout);
            if (match) return match;
            if (ended) throw new Error(`serve exited before printing ${pattern}\n${transcript()}`);
            await new Promise<void>((wake) => waiters.push(wake));
          }
        })(),
        `output matching ${pattern}`,
      ),
  };
}

describe('freshcache serve', () => {
  let dir: string;
  const configFile = async (name: string, text: string) => {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'freshcache-serve-'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

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
    const file = join(dir, 'missing.json');
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
