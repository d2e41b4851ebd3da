import { describe, expectTypeOf, it } from 'vitest';
import type * as Dashboard from '../../dashboard/src/api/types.js';
import type { HistoryAnswer } from '../../packages/freshcache-server/src/observability/metrics-history.js';
import type { Percentiles } from '../../packages/freshcache-server/src/observability/metrics.js';
import type { ContentRecord } from '../../packages/freshcache-server/src/demo/content-store.js';
import type { KeyExplorerPage } from '../../packages/freshcache-server/src/server/routes/cache.js';
import type { DryRunAnswer } from '../../packages/freshcache-server/src/server/routes/invalidations.js';
import type { InvalidationStatus } from '../../packages/freshcache-server/src/topology/invalidation-tracker.js';
import type { RegionSettings } from '../../packages/freshcache-server/src/topology/region.js';
import type { RedisNodeView } from '../../packages/freshcache-server/src/topology/redis-nodes.js';
import type { RebalanceProgress } from '../../packages/freshcache-server/src/topology/redis-cluster-admin.js';
import type { RedisFailover } from '../../packages/freshcache-server/src/topology/redis-failover-watch.js';
import type { NodeView } from '../../packages/freshcache/src/seams/node-registry.js';

/**
 * The dashboard writes the API's shapes out by hand (dashboard/src/api/types.ts) so that its
 * bundle never imports server code. These checks, run by vitest's type checker, fail when a
 * server type stops fitting the dashboard's copy of it.
 */
describe('the dashboard reads what the server sends', () => {
  it('metrics history and percentiles', () => {
    expectTypeOf<HistoryAnswer>().toExtend<Dashboard.MetricsHistory>();
    expectTypeOf<Percentiles>().toExtend<Dashboard.Percentiles>();
  });

  it('content, invalidation statuses and region settings', () => {
    expectTypeOf<ContentRecord>().toExtend<Dashboard.ContentRecord>();
    expectTypeOf<InvalidationStatus>().toExtend<Dashboard.InvalidationStatus>();
    // GET /api/regions adds whether the answering process serves the region.
    expectTypeOf<RegionSettings & { name: string; served: boolean }>().toExtend<Dashboard.RegionSettings>();
  });

  it('key explorer pages and dry runs', () => {
    expectTypeOf<KeyExplorerPage>().toExtend<Dashboard.CachePage>();
    expectTypeOf<DryRunAnswer>().toExtend<Dashboard.DryRunResult>();
  });

  it('nodes of the fleet', () => {
    // GET /api/nodes tags each freshcache node with its kind.
    expectTypeOf<NodeView & { kind: 'freshcache' }>().toExtend<Dashboard.FreshcacheNode>();
    expectTypeOf<RedisNodeView>().toExtend<Dashboard.RedisNode>();
  });

  it('resharding progress and failovers', () => {
    expectTypeOf<RebalanceProgress>().toExtend<Dashboard.RebalanceProgress>();
    expectTypeOf<RedisFailover>().toExtend<Dashboard.RedisFailover>();
  });
});
