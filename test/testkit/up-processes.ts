import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { CLI_NODE_ARGS } from './start-up.js';

const run = promisify(execFile);

/** `freshcache chaos …` against the up whose state file is `stateFile`, as a user runs it, and the services it lists. */
export function chaosCli(stateFile: () => string) {
  const chaos = async (...args: string[]): Promise<string> => (await run(process.execPath, [...CLI_NODE_ARGS, 'chaos', ...args, '--state', stateFile()])).stdout;
  /** up's supervised processes and their pids, as `freshcache chaos list` shows them. */
  const services = async (): Promise<Map<string, number>> =>
    new Map((await chaos('list')).trim().split('\n').map((line) => [line.split(/\s+/)[0]!, Number(/pid (\d+)/.exec(line)![1])]));
  return { chaos, services };
}

/** The state letter of /proc/PID/stat (R, S, T for stopped, Z), or '' if there is no such process. */
export async function processState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat ? stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) : '';
}

/** Running: a zombie has exited (this container's init may be slow to reap orphans). */
export async function isRunning(pid: number): Promise<boolean> {
  const state = await processState(pid);
  return state !== '' && state !== 'Z';
}

/** Whether something listens on host:port. */
export function accepts({ host, port }: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolveAccepts) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolveAccepts(true);
    });
    socket.once('error', () => resolveAccepts(false));
  });
}
