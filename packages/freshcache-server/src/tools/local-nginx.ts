import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import type { Running } from './supervisor.js';

export const NGINX_INSTALL_HINT = 'nginx is not installed: freshcache up puts it in front of each region. On Debian or Ubuntu: sudo apt-get install -y nginx-light';

/**
 * The nginx binary: FRESHCACHE_NGINX if set, else the PATH, else /usr/sbin and /usr/local/sbin
 * (Debian installs it in /usr/sbin, which a user's PATH often lacks).
 */
export function findNginx(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.FRESHCACHE_NGINX !== undefined) return existsSync(env.FRESHCACHE_NGINX) ? env.FRESHCACHE_NGINX : undefined;
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((dir) => join(dir, 'nginx')).find((path) => existsSync(path));
}

/**
 * Starts nginx in the foreground (`daemon off` in the config) in its own process group, with
 * its error log in `dir`, and resolves once it accepts connections on `port`.
 */
export async function startNginx(bin: string, dir: string, config: string, port: number): Promise<Running> {
  const child = spawn(bin, ['-p', dir, '-c', config, '-e', join(dir, 'nginx-error.log')], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (output.length < 16_000) output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  // nginx prints nothing when it is ready: its port accepting is the sign. Bounded: 10 s.
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (gone) throw new Error(`nginx exited before it was ready: ${output.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not listen on ${port} within 10 s: ${output.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { pid: child.pid!, exited };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
