import { readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startUp } from '../testkit/start-up.js';
import { accepts } from '../testkit/up-processes.js';

/** `freshcache up` as a user runs it: everything it starts answers, and Ctrl-C stops all of it. */

describe('freshcache up', () => {
  it('starts Redis, PostgreSQL, a relay and a node per region that serve reads, and stops all of it on Ctrl-C', async () => {
    // Without nginx (FRESHCACHE_NGINX names one that is not there): the nodes' own URLs, and how to install it.
    const home = await mkdtemp(join(tmpdir(), 'freshcache-home-'));
    onTestFinished(() => rm(home, { recursive: true, force: true }));
    const up = startUp(['--port', '0', '--capture', 'outbox'], { ...process.env, HOME: home, FRESHCACHE_NGINX: join(home, 'no-nginx') });
    try {
      await up.until('Ctrl-C stops everything');
      expect(up.output()).toContain('nginx is not installed');
      expect(up.output()).toContain('apt-get install -y nginx-light');
      expect(up.output()).not.toContain('(nginx)');
      const control = /control \(API, relay\)\s+(http:\/\/\S+)/.exec(up.output())![1]!;
      const node = /us-east-1\s+(http:\/\/\S+)/.exec(up.output())![1]!;
      expect((await fetch(`${control}/ready`)).status).toBe(200);
      const read = await fetch(`${node}/edge/us-east/content/1`);
      expect(read.status).toBe(200);
      expect(read.headers.get('x-cache')).toBe('MISS');
      // The control serves no region: it reads us-east's entry from the region's Redis L2 (a region view).
      const viewed = await fetch(`${control}/api/cache/content:1?region=us-east`);
      expect(viewed.status).toBe(200);
      expect(viewed.headers.get('x-cache')).toBe('HIT');
      const pids = await childPids(up.child.pid!);
      expect(pids.length).toBeGreaterThanOrEqual(6); // redis-server, control, three nodes, the watchdog (pg_ctl daemonizes postgres)
      const servers = [/redis\s+redis:\/\/([\d.]+):(\d+)/, /postgres\s+postgres:\/\/\S*@([\d.]+):(\d+)/].map((pattern) => {
        const [, host, port] = pattern.exec(up.output())!;
        return { host: host!, port: Number(port) };
      });
      expect(await Promise.all(servers.map(accepts))).toEqual([true, true]);

      up.child.kill('SIGINT');
      expect(await up.exited).toBe(0);
      expect(up.output()).toContain('Stopped.');
      const alive = pids.filter(isAlive);
      expect(await Promise.all(alive.map(describePid))).toEqual([]);
      expect(await Promise.all(servers.map(accepts))).toEqual([false, false]);
    } finally {
      // Never SIGKILL `up` itself: its servers and nodes would outlive it. Ask it to stop.
      if (up.child.exitCode === null) {
        up.child.kill('SIGINT');
        await up.exited;
      }
    }
  }, 120_000);

  it('names the package to install when a server binary is missing', async () => {
    // A PATH with node but without redis-server.
    const bin = await mkdtemp(join(tmpdir(), 'freshcache-path-'));
    await symlink(process.execPath, join(bin, 'node'));
    onTestFinished(() => rm(bin, { recursive: true, force: true }));
    const up = startUp([], { ...process.env, PATH: bin });
    expect(await up.exited).toBe(1);
    expect(up.output()).toMatch(/needs .*redis-server.*apt-get install -y .*redis-server/);
  });
});

/** Direct children of a process (Linux /proc), to check later that none survived. */
async function childPids(pid: number): Promise<number[]> {
  const { readFile, readdir } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent === pid) pids.push(Number(entry));
  }
  return pids;
}

async function describePid(pid: number): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '?');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '?');
  return `${pid} ${cmdline.replace(/\0/g, ' ')} ${stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)}`;
}

/** Running: a zombie has exited (an orphan waits for this container's init, which may be slow to reap it). */
function isAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

