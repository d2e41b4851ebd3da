import { spawn } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Supervisor, UnknownServiceError } from '../../packages/freshcache-server/src/tools/supervisor.js';
import type { Running, ServiceSpec } from '../../packages/freshcache-server/src/tools/supervisor.js';
import { startWatchdog } from '../../packages/freshcache-server/src/tools/watchdog.js';

/** `up`'s supervisor over real processes (`sleep`), each in its own process group as `up` runs them. */
function sleeper(name: string, starts: number[]): ServiceSpec {
  return {
    name,
    start: async () => {
      const child = spawn('sleep', ['600'], { stdio: 'ignore', detached: true });
      await new Promise((resolve) => child.once('spawn', resolve));
      starts.push(child.pid!);
      return { pid: child.pid!, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
    },
    stop: async (running: Running) => {
      process.kill(running.pid, 'SIGTERM');
      await running.exited;
    },
  };
}

function setUp() {
  const watchdog = startWatchdog();
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  const supervisor = new Supervisor(watchdog, (line) => {
    lines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  onTestFinished(async () => {
    await supervisor.stopAll();
    await watchdog.close();
  });
  const until = async (pattern: RegExp) => {
    while (!lines.some((line) => pattern.test(line))) await new Promise<void>((wake) => waiters.push(wake));
  };
  return { supervisor, lines, until };
}

describe('Supervisor', () => {
  it('starts a process that died again, and leaves the others running', async () => {
    const { supervisor, until } = setUp();
    const a: number[] = [];
    const b: number[] = [];
    await supervisor.add(sleeper('a', a));
    await supervisor.add(sleeper('b', b));
    process.kill(a[0]!, 'SIGKILL');
    await until(/a is back/);
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(1);
    expect(supervisor.status()).toEqual([
      { name: 'a', pid: a[1], state: 'running', restarts: 1 },
      { name: 'b', pid: b[0], state: 'running', restarts: 0 },
    ]);
  });

  it('answers a restart once the process runs again under a new pid', async () => {
    const { supervisor } = setUp();
    const a: number[] = [];
    await supervisor.add(sleeper('a', a));
    const status = await supervisor.act('restart', 'a');
    expect(a).toHaveLength(2);
    expect(status).toEqual({ name: 'a', pid: a[1], state: 'running', restarts: 1 });
  });

  it('stops a removed service for good: not restarted, no longer listed nor a chaos target', async () => {
    const { supervisor, lines } = setUp();
    const a: number[] = [];
    const b: number[] = [];
    await supervisor.add(sleeper('a', a));
    await supervisor.add(sleeper('b', b));
    await supervisor.remove('a');
    expect(isRunning(a[0]!)).toBe(false);
    expect(supervisor.status().map((s) => s.name)).toEqual(['b']);
    await expect(supervisor.act('kill', 'a')).rejects.toThrow(UnknownServiceError);
    // Its exit was seen (stop resolves after it) and no restart was scheduled.
    expect(lines).toEqual([]);
    expect(a).toHaveLength(1);
  });

  it('starts nothing again once stopAll (Ctrl-C) has stopped everything', async () => {
    const { supervisor, lines } = setUp();
    const a: number[] = [];
    await supervisor.add(sleeper('a', a));
    await supervisor.stopAll();
    expect(supervisor.status()).toEqual([{ name: 'a', pid: null, state: 'stopped', restarts: 0 }]);
    expect(a).toHaveLength(1);
    expect(lines).toEqual([]);
  });
});

/** Whether a pid still names a process that has not exited (signal 0 checks, sends nothing). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
