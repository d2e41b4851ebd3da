import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { FromChild, ToChild } from '../http/servers/bench-child.js';

export interface ServerChild {
  pid: number;
  port: number;
  body: string;
  /** Sends one request and waits for the child's answer of the given type. */
  ask<T extends FromChild['type']>(message: ToChild, answer: T): Promise<Extract<FromChild, { type: T }>>;
  close(): Promise<void>;
}

/**
 * Starts a benchmark server (bench/http/servers/*.ts) in a node process of its own, pinned to the
 * given CPUs with taskset, and waits until it listens.
 */
export async function startServerChild(script: string, args: string[], cpus: string): Promise<ServerChild> {
  // --enable-source-maps: profile lines point into the .ts sources (only stack traces pay for it).
  const child = spawn('taskset', ['-c', cpus, process.execPath, '--enable-source-maps', '--conditions=freshcache-source', '--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T extends FromChild['type']>(type: T) =>
    new Promise<Extract<FromChild, { type: T }>>((resolve, reject) => {
      const onMessage = (message: FromChild) => {
        if (message.type !== type) return;
        cleanup();
        resolve(message as Extract<FromChild, { type: T }>);
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`${script} exited with ${code} before answering ${type}`));
      };
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
    });
  const listening = await next('listening');
  return {
    pid: child.pid!,
    port: listening.port,
    body: listening.body,
    ask: (message, answer) => {
      const answered = next(answer);
      child.send(message);
      return answered;
    },
    close: () => closeChild(child),
  };
}

async function closeChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send({ type: 'close' } satisfies ToChild);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
