import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

export interface ServeProcess {
  name: string;
  /** Where its HTTP API listens. */
  url: string;
  child: ChildProcess;
}

export interface ServeOptions {
  name: string;
  /** How to run the CLI: node arguments up to and including the entry file (dist/cli/main.js, or tsx and packages/freshcache-server/src/cli/main.ts). */
  entry: string[];
  config: string;
  env?: Record<string, string>;
  /** Its standard error once it is ready (warnings and errors). */
  onStderr?: (text: string) => void;
  /** Run it in a process group of its own, out of reach of the terminal's Ctrl-C (`freshcache up`). */
  detached?: boolean;
}

/** Starts `freshcache serve` as a child process and resolves once it prints where it serves. */
export function spawnServe(options: ServeOptions): Promise<ServeProcess> {
  const child = spawn(process.execPath, [...options.entry, 'serve', '--config', options.config], {
    // The child stops when this process dies and its stdin pipe closes (see serve.ts).
    env: { ...process.env, ...options.env, FRESHCACHE_STOP_WITH_PARENT: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      if (output.length < 64_000) output += chunk.toString();
      const match = /serving .* at (http:\/\/\S+)/.exec(output);
      if (!match) return;
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.off('exit', onExit);
      // Keep draining its output so a full pipe never blocks it.
      child.stdout.resume();
      child.stderr.on('data', (text: Buffer) => options.onStderr?.(text.toString()));
      resolve({ name: options.name, url: match[1]!, child });
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      reject(new Error(`${options.name} exited (${signal ?? code}) before it was ready:\n${output}`));
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', onExit);
    child.once('error', reject);
  });
}

/** SIGTERM, and SIGKILL if it has not stopped within `graceMs`. */
export function stopServe(node: ServeProcess, graceMs = 5_000): Promise<void> {
  return signalAndWait(node.child, 'SIGTERM', graceMs);
}

/** SIGKILL, as a crash: no clean-up of any kind. */
export function killServe(node: ServeProcess): Promise<void> {
  return signalAndWait(node.child, 'SIGKILL', Infinity);
}

async function signalAndWait(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = Number.isFinite(graceMs) ? setTimeout(() => child.kill('SIGKILL'), graceMs) : undefined;
  await exited;
  clearTimeout(timer);
}
