import { FreshcacheError } from 'freshcache';
import type { PreparedOperation, RebalanceProgress, RedisClusterAdmin } from '../topology/redis-cluster-admin.js';
import type { UpRedisNode } from './up-control.js';

/**
 * Asks a running `freshcache up` (its endpoint, up-control.ts) to start or stop a Redis Cluster
 * node: `freshcache cluster` finds it through up's state file, the control process of up through
 * FRESHCACHE_UP_CONTROL. The same endpoint and token as `freshcache chaos`.
 */
export class UpClient {
  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  /** The up that started this process (its control process), if any. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): UpClient | undefined {
    return env.FRESHCACHE_UP_CONTROL ? new UpClient(env.FRESHCACHE_UP_CONTROL, env.FRESHCACHE_UP_TOKEN ?? '') : undefined;
  }

  /** Has up start one more cluster node, empty and not yet a member, supervised as redis-PORT. */
  async addRedisNode(): Promise<UpRedisNode> {
    return (await this.call('POST', '/redis-nodes')) as UpRedisNode;
  }

  /** Has up stop a node that left the cluster, and stop supervising it; false if up did not start it. */
  async removeRedisNode(name: string): Promise<boolean> {
    return (await this.call('DELETE', `/redis-nodes/${encodeURIComponent(name)}`, [404])) !== undefined;
  }

  private async call(method: string, path: string, absent: number[] = []): Promise<unknown> {
    const response = await fetch(`${this.url}${path}`, { method, headers: { authorization: `Bearer ${this.token}` } }).catch(() => {
      throw new FreshcacheError('node_unreachable', `freshcache up does not answer at ${this.url}: is it still running?`);
    });
    const body = (await response.json().catch(() => ({}))) as { error?: { message: string } };
    if (absent.includes(response.status)) return undefined;
    if (response.ok) return body;
    const message = body.error?.message ?? `freshcache up answered ${response.status}`;
    throw new FreshcacheError(response.status === 409 ? 'conflict' : response.status >= 500 ? 'store_unavailable' : 'bad_request', message);
  }
}

/**
 * add-node without an address, under up: up starts the server, then the admin checks and joins
 * it. If the admin refuses before anything moved, up stops the server again. A join that fails
 * later leaves it running and supervised (it may hold slots): `freshcache cluster list` shows it.
 */
export async function prepareAddUnderUp(admin: RedisClusterAdmin, up: UpClient): Promise<PreparedOperation> {
  const node = await up.addRedisNode();
  try {
    return await admin.prepareAdd({ host: node.host, port: node.port });
  } catch (error) {
    await up.removeRedisNode(node.name).catch(() => {});
    throw error;
  }
}

/**
 * remove-node under up: once the primary's slots moved away and the cluster forgot it, up stops
 * the server and stops supervising it (when up started it: redis-PORT). The operation is done only
 * then; its last progress waits for the stop.
 */
export function stopOnceRemoved(prepared: PreparedOperation, up: UpClient): PreparedOperation {
  return {
    operation: prepared.operation,
    node: prepared.node,
    plannedSlots: prepared.plannedSlots,
    run: async (onProgress?: (progress: RebalanceProgress) => void) => {
      const result = await prepared.run((progress) => {
        // The last one (done or failed) is told below, after the stop.
        if (progress.finishedAt === null) onProgress?.(progress);
      });
      const port = /:(\d+)$/.exec(result.node ?? '')?.[1];
      if (result.phase === 'done' && port) {
        try {
          await up.removeRedisNode(`redis-${port}`);
        } catch (error) {
          result.phase = 'failed';
          result.error = `its slots moved and the cluster forgot it, but freshcache up did not stop it: ${(error as Error).message}`;
        }
        result.finishedAt = Date.now();
      }
      onProgress?.(structuredClone(result));
      return result;
    },
  };
}
