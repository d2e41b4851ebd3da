import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../packages/freshcache-server/src/tools/free-port.js';

export interface Varnish {
  port: number;
  /** The manager's pid; the cache process is its child. */
  pid: number;
  /** Counters from varnishstat (MAIN.cache_hit, MAIN.cache_miss, MAIN.backend_req, …). */
  counters(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

/**
 * A varnishd of our own in front of one backend, on a free port with its working folder in a temp
 * folder, in the foreground (-F) so it stops with us; `stop()` ends it and deletes the folder. The
 * VCL caches every 200 for an hour, whatever the backend's headers say, so after one miss every
 * request is a hit.
 */
export async function startVarnish({ backendPort, cpus, params = [] }: { backendPort: number; cpus: string; params?: string[] }): Promise<Varnish> {
  const dir = await mkdtemp(join(tmpdir(), 'freshcache-varnish-'));
  const vcl = join(dir, 'bench.vcl');
  await writeFile(
    vcl,
    ['vcl 4.1;', `backend edge { .host = "127.0.0.1"; .port = "${backendPort}"; }`, 'sub vcl_backend_response { set beresp.ttl = 1h; set beresp.grace = 0s; }', ''].join('\n'),
  );
  const workdir = join(dir, 'work');
  const port = await freePort();
  // -j none: no privilege separation, so running as root needs no varnish user to own the folder.
  const child = spawn('taskset', ['-c', cpus, 'varnishd', '-F', '-j', 'none', '-n', workdir, '-a', `127.0.0.1:${port}`, '-f', vcl, '-s', 'malloc,64m', ...params.flatMap((param) => ['-p', param])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilServing(port, () => child.exitCode !== null, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    pid: child.pid!,
    counters: async () => {
      const { stdout } = await run('varnishstat', ['-n', workdir, '-1']);
      const counters: Record<string, number> = {};
      for (const line of stdout.split('\n')) {
        const [name, value] = line.trim().split(/\s+/);
        if (name && value !== undefined) counters[name] = Number(value);
      }
      return counters;
    },
    stop,
  };
}

/** The cache process starts a moment after the manager: poll until a request is answered. */
async function waitUntilServing(port: number, exited: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited()) throw new Error(`varnishd exited: ${output().trim()}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`varnishd did not answer on ${port} within 20 s: ${output().trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
