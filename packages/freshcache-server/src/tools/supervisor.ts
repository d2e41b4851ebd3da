import { readdir, readFile } from 'node:fs/promises';
import type { Watchdog } from './watchdog.js';

/** A running instance of a supervised service. */
export interface Running {
  /** Its pid, which leads its own process group (the terminal's Ctrl-C reaches only `up`). */
  pid: number;
  /** Resolves when the process has exited, for whatever reason. */
  exited: Promise<void>;
}

export interface ServiceSpec {
  name: string;
  /** Starts the service and resolves once it is ready (on the same port every time). */
  start(): Promise<Running>;
  /** Stops it gracefully; resolves once it has exited. */
  stop(running: Running): Promise<void>;
  /** What the watchdog sends its process group if `up` dies (default KILL). */
  watchdogSignal?: 'KILL' | 'QUIT';
  /** Pause and resume the pid's children too (PostgreSQL's backends lead groups of their own). */
  pauseChildren?: boolean;
  /**
   * A crash restarts it no sooner than this (default: the backoff alone). A Redis Cluster node
   * waits out its node timeout, so that a killed primary's replica takes over, as in a real failure.
   */
  minRestartDelayMs?: number;
}

export type ServiceState = 'running' | 'paused' | 'restarting' | 'stopped';

export interface ServiceStatus {
  name: string;
  pid: number | null;
  state: ServiceState;
  restarts: number;
}

export type ChaosAction = 'kill' | 'restart' | 'pause' | 'resume';
export const CHAOS_ACTIONS: readonly ChaosAction[] = ['kill', 'restart', 'pause', 'resume'];

export class UnknownServiceError extends Error {}

/** Restart delays: 200 ms doubling to 5 s; a service that ran for 10 s starts again from 200 ms. */
const FIRST_DELAY_MS = 200;
const MAX_DELAY_MS = 5_000;
const HEALTHY_AFTER_MS = 10_000;

interface Service {
  spec: ServiceSpec;
  running: Running | undefined;
  state: ServiceState;
  restarts: number;
  failures: number;
  startedAt: number;
  /** Processes paused with the service (its own pid and, for PostgreSQL, its children). */
  paused: number[];
  /** Set while an action (restart) has taken the service down on purpose. */
  busy: Promise<void> | undefined;
  /** Woken by the next successful start. */
  waiters: (() => void)[];
  /** Taken out of supervision (`remove`): never started again. */
  removed: boolean;
}

/**
 * `up`'s children: each is restarted with backoff when it dies, while the others keep serving;
 * only `stopAll` (Ctrl-C) stops them. Every process group is registered with the watchdog, so
 * nothing outlives a SIGKILL of `up`.
 */
export class Supervisor {
  private readonly services = new Map<string, Service>();
  private stopping = false;

  constructor(
    private readonly watchdog: Watchdog,
    private readonly log: (line: string) => void,
  ) {}

  /** Starts a service for the first time; a failure here is `up`'s failure. */
  async add(spec: ServiceSpec): Promise<void> {
    const service: Service = { spec, running: undefined, state: 'restarting', restarts: 0, failures: 0, startedAt: 0, paused: [], busy: undefined, waiters: [], removed: false };
    this.services.set(spec.name, service);
    await this.launch(service);
  }

  status(): ServiceStatus[] {
    return [...this.services.values()].map((s) => ({ name: s.spec.name, pid: s.running?.pid ?? null, state: s.state, restarts: s.restarts }));
  }

  /** Applies a chaos action; a restart resolves once the service runs again (or after 30 s, still restarting). */
  async act(action: ChaosAction, name: string): Promise<ServiceStatus> {
    const service = this.services.get(name);
    if (!service) throw new UnknownServiceError(`no service named "${name}"; there are: ${[...this.services.keys()].join(', ')}`);
    const running = service.running;
    switch (action) {
      case 'kill':
        // A crash: the supervisor sees the exit and restarts it with backoff.
        if (running) signalGroup(running.pid, 'SIGKILL');
        for (const pid of service.paused.splice(0)) signalGroup(pid, 'SIGKILL');
        break;
      case 'restart': {
        if (service.busy) break;
        let timer: NodeJS.Timeout | undefined;
        const back = new Promise<void>((resolve) => {
          service.waiters.push(resolve);
          timer = setTimeout(resolve, 30_000);
        });
        service.busy = (async () => {
          this.resume(service);
          if (running) {
            service.state = 'restarting';
            await service.spec.stop(running);
          }
        })();
        await service.busy;
        service.busy = undefined;
        await back;
        clearTimeout(timer);
        break;
      }
      case 'pause':
        if (running && service.state === 'running') {
          const pids = service.spec.pauseChildren ? [running.pid, ...(await childrenOf(running.pid))] : [running.pid];
          for (const pid of pids) {
            signalGroup(pid, 'SIGSTOP');
            // A paused child does not see the watchdog's QUIT to its parent: kill it outright.
            if (pid !== running.pid) this.watchdog.watch(pid);
          }
          service.paused = pids;
          service.state = 'paused';
        }
        break;
      case 'resume':
        this.resume(service);
        break;
    }
    return this.status().find((s) => s.name === name)!;
  }

  /**
   * Stops a service for good and forgets it (a Redis primary that `freshcache cluster remove-node`
   * emptied): no restart, no chaos target, no longer in `status`. A start under way is stopped once it is up.
   */
  async remove(name: string): Promise<void> {
    const service = this.services.get(name);
    if (!service) throw new UnknownServiceError(`no service named "${name}"; there are: ${[...this.services.keys()].join(', ')}`);
    this.services.delete(name);
    service.removed = true;
    this.resume(service);
    service.state = 'stopped';
    for (const wake of service.waiters.splice(0)) wake();
    const running = service.running;
    if (!running) return;
    await service.spec.stop(running);
    this.watchdog.forget(running.pid);
  }

  /** Stops every service, the last started first. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const service of [...this.services.values()].reverse()) {
      this.resume(service);
      const running = service.running;
      service.state = 'stopped';
      if (!running) continue;
      await service.spec.stop(running).catch((error: unknown) => this.log(`${service.spec.name}: ${(error as Error).message}`));
      this.watchdog.forget(running.pid);
    }
  }

  private resume(service: Service): void {
    for (const pid of service.paused.splice(0)) {
      signalGroup(pid, 'SIGCONT');
      if (pid !== service.running?.pid) this.watchdog.forget(pid);
    }
    if (service.state === 'paused') service.state = 'running';
  }

  private async launch(service: Service): Promise<number> {
    const running = await service.spec.start();
    if (this.stopping || service.removed) {
      // Ctrl-C (or a remove) came while it started: stopAll has passed it by.
      await service.spec.stop(running);
      return running.pid;
    }
    service.running = running;
    service.state = 'running';
    service.startedAt = Date.now();
    this.watchdog.watch(running.pid, service.spec.watchdogSignal ?? 'KILL');
    void running.exited.then(() => this.onExit(service, running));
    return running.pid;
  }

  private async onExit(service: Service, running: Running): Promise<void> {
    this.watchdog.forget(running.pid);
    service.running = undefined;
    service.paused = [];
    if (this.stopping || service.removed) return;
    service.state = 'restarting';
    if (Date.now() - service.startedAt >= HEALTHY_AFTER_MS) service.failures = 0;
    for (;;) {
      // A restart asked for (chaos restart) starts again at once; a crash waits its backoff.
      const delay = service.busy ? 0 : Math.max(service.spec.minRestartDelayMs ?? 0, Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** service.failures));
      service.failures++;
      if (!service.busy) this.log(`${service.spec.name} exited; restarting in ${delay} ms`);
      await service.busy;
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.stopping || service.removed) return;
      try {
        const pid = await this.launch(service);
        if (service.removed) return;
        service.restarts++;
        for (const wake of service.waiters.splice(0)) wake();
        this.log(`${service.spec.name} is back (pid ${pid})`);
        return;
      } catch (error) {
        this.log(`${service.spec.name} failed to start: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  }
}

/** Signals a process group (our children lead their own), or the pid alone if it leads none. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** Direct children of a process (Linux /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
  }
  return children;
}
