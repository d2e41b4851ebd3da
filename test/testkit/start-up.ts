import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The CLI from its TypeScript sources, as a user's `npx freshcache` runs the built one. */
const MAIN = resolve(import.meta.dirname, '../../packages/freshcache-server/src/cli/main.ts');
export const CLI_NODE_ARGS = ['--conditions=freshcache-source', '--import', 'tsx', MAIN];

/**
 * `freshcache up …args` as a child process, its stdout and stderr read together as a user sees
 * them. The caller stops it: SIGINT (Ctrl-C), never SIGKILL unless the test is about that (its
 * servers would outlive it until its watchdog acts).
 */
export function startUp(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [...CLI_NODE_ARGS, 'up', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    wake();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  // 'close', not 'exit': by then its pipes are drained, so a line it printed last is in the output.
  let closed = false;
  child.once('close', () => {
    closed = true;
    wake();
  });
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    /** Its exit code (null when a signal ended it). */
    exited,
    output: () => output,
    /** Waits until the output, from offset `from` on, contains `pattern`; fails if up exits first. */
    async until(pattern: RegExp | string, from = 0): Promise<void> {
      const found = () => (typeof pattern === 'string' ? output.slice(from).includes(pattern) : pattern.test(output.slice(from)));
      while (!found()) {
        if (closed) throw new Error(`up exited before printing ${String(pattern)}:\n${output}`);
        await new Promise<void>((waiter) => waiters.push(waiter));
      }
    },
    /** Ctrl-C, and its exit code once it has stopped everything (a no-op once it has exited). */
    async stop(): Promise<number | null> {
      if (!ended()) child.kill('SIGINT');
      return exited;
    },
  };
}

export type UpProcess = ReturnType<typeof startUp>;
