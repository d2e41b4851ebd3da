import type { Clock } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { NodeRecord, NodeRegistry, NodeRegistryTimings, NodeView } from '../../seams/node-registry.js';
import { NODE_REGISTRY_DEFAULTS, nodeStateAt } from '../../seams/node-registry.js';

export interface MemoryNodeRegistryOptions extends Partial<NodeRegistryTimings> {
  clock?: Clock;
}

/** The node registry of one process (the embedded demo): its in-process nodes. */
export class MemoryNodeRegistry implements NodeRegistry {
  private readonly clock: Clock;
  private readonly timings: NodeRegistryTimings;
  private readonly nodes = new Map<string, { record: NodeRecord; lastSeenAt: number }>();

  constructor(options: MemoryNodeRegistryOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.timings = { downAfterMs: options.downAfterMs ?? NODE_REGISTRY_DEFAULTS.downAfterMs, removeAfterMs: options.removeAfterMs ?? NODE_REGISTRY_DEFAULTS.removeAfterMs };
  }

  async heartbeat(record: NodeRecord): Promise<void> {
    // A copy: the caller may change its object, the registry keeps what was sent.
    this.nodes.set(record.id, { record: structuredClone(record), lastSeenAt: this.clock.now() });
  }

  async list(): Promise<NodeView[]> {
    const now = this.clock.now();
    const views: NodeView[] = [];
    for (const [id, { record, lastSeenAt }] of this.nodes) {
      const state = nodeStateAt(lastSeenAt, now, this.timings);
      if (state === undefined) this.nodes.delete(id);
      else views.push({ ...structuredClone(record), lastSeenAt, state });
    }
    return views.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async get(id: string): Promise<NodeView | undefined> {
    return (await this.list()).find((node) => node.id === id);
  }

  async deregister(id: string): Promise<void> {
    this.nodes.delete(id);
  }

  async close(): Promise<void> {}
}
