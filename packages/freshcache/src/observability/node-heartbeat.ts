import type { Clock, Timer } from '../engine/clock.js';
import type { NodeRecord, NodeRegistry } from '../seams/node-registry.js';

export interface NodeHeartbeatOptions {
  registry: NodeRegistry;
  clock: Clock;
  /** Between two heartbeats (default 1,000 ms). */
  intervalMs?: number;
  /** The node's id in the registry. */
  id: string;
  /** The record to send (with `id`), read at each heartbeat: its figures are the node's at that moment. */
  describe: () => NodeRecord | Promise<NodeRecord>;
  /** A heartbeat that failed (Redis down): the next one tries again. */
  onError?: (error: unknown) => void;
}

/**
 * Keeps one node listed in the fleet's registry: a heartbeat at start, then every `intervalMs`
 * (the next is timed from the end of the last, so a slow Redis never stacks them up), and a
 * deregistration on stop.
 */
export class NodeHeartbeat {
  private readonly options: NodeHeartbeatOptions;
  private readonly intervalMs: number;
  private timer: Timer | undefined;
  private sending: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(options: NodeHeartbeatOptions) {
    this.options = options;
    this.intervalMs = options.intervalMs ?? 1_000;
  }

  /** Sends the first heartbeat (resolves after it, failed or not) and schedules the next ones. */
  async start(): Promise<void> {
    await this.beat();
  }

  /** Sends one now (say, the node started draining) instead of at the next tick. */
  beat(): Promise<void> {
    if (this.stopped) return this.sending;
    this.timer?.cancel();
    this.timer = undefined;
    this.sending = this.sending.then(async () => {
      if (this.stopped) return;
      try {
        await this.options.registry.heartbeat(await this.options.describe());
      } catch (error) {
        this.options.onError?.(error);
      }
      if (!this.stopped && this.timer === undefined) this.timer = this.options.clock.setTimeout(() => void this.beat(), this.intervalMs);
    });
    return this.sending;
  }

  /**
   * Stops the heartbeats and removes the node from the registry. A registry that does not answer
   * (Redis down) holds this up for at most STOP_WAIT_MS per step: the node is then removed once
   * silent for the registry's bound instead.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    await within(this.sending, STOP_WAIT_MS);
    await within(
      this.options.registry.deregister(this.options.id).catch((error: unknown) => this.options.onError?.(error)),
      STOP_WAIT_MS,
    );
  }
}

/** How long stop() waits for the registry, per step: real time, since it bounds a wait on the network. */
const STOP_WAIT_MS = 1_000;

function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}
