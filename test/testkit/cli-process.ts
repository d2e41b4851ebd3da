import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, onTestFinished } from 'vitest';

/** The CLI as a supervisor runs it: the TypeScript sources through tsx, as test/testkit/deployment.ts does. */
const MAIN = resolve(import.meta.dirname, '../../packages/freshcache-server/src/cli/main.ts');
/** Starting tsx and PGlite takes a few seconds; this only turns a hang into a failure with the output. */
const GUARD_MS = 20_000;

/** The environment without FRESHCACHE_* overrides a developer may have set, so the file alone decides. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FRESHCACHE_')));
}

/** Runs `freshcache <command> ...args` as a child process of the current test (killed when it ends). */
export function runCli(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = runTs(MAIN, [command, ...args], env, command);
  onTestFinished(() => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  });
  return run;
}

/**
 * Runs a TypeScript file through tsx as a child process, with the same output waits as `runCli`.
 * The caller ends it (a process shared by a file's tests is killed in its `afterAll`).
 */
export function runTs(file: string, args: string[], env: NodeJS.ProcessEnv = {}, command = file) {
  const child = spawn(process.execPath, ['--conditions=freshcache-source', '--import', 'tsx', file, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
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
      timer = setTimeout(() => reject(new Error(`${command}: no ${what} within ${GUARD_MS} ms\n${transcript()}`)), GUARD_MS);
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
    untilStdout: (pattern: RegExp) => until(() => stdout, pattern),
    /** The same on stderr (where `freshcache load` writes its progress). */
    untilStderr: (pattern: RegExp) => until(() => stderr, pattern),
  };

  function until(output: () => string, pattern: RegExp) {
    return guard(
      (async () => {
        for (;;) {
          const match = pattern.exec(output());
          if (match) return match;
          if (ended) throw new Error(`${command} exited before printing ${pattern}\n${transcript()}`);
          await new Promise<void>((wake) => waiters.push(wake));
        }
      })(),
      `output matching ${pattern}`,
    );
  }
}

/**
 * A temp folder of the calling test file for config files: made before its tests, deleted after.
 * `path(name)` is where a file of that name goes; `write(name, text)` writes it and resolves that path.
 */
export function configFilesForFile(prefix: string) {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const path = (name: string) => {
    if (!dir) throw new Error('the config folder of this file is not made yet (use it inside a test or hook)');
    return join(dir, name);
  };
  return {
    path,
    write: async (name: string, text: string) => {
      await writeFile(path(name), text);
      return path(name);
    },
  };
}
