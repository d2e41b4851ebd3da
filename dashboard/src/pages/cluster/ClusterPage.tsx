import { useCallback, useState } from 'react';
import type { ChaosAction, NodeList, RebalanceProgress, RedisFailover } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Panel } from '../../components/Panel';
import { useApi, useAsync, useEvent, useResync } from '../../lib/api-context';
import { useInfo } from '../../lib/info-context';
import { usePolling } from '../../lib/usePolling';
import { ChaosTable } from './ChaosTable';
import { FailoverList } from './FailoverList';
import { FreshcacheNodeTable } from './FreshcacheNodeTable';
import { groupByRegion } from './group-by-region';
import { PrimaryLegend } from './PrimaryLegend';
import { RedisNodeTable } from './RedisNodeTable';
import { isRunning, ReshardingPanel } from './ReshardingPanel';
import { slotLayout } from './slot-layout';
import type { SlotLayout } from './slot-layout';
import { SlotRing } from './SlotRing';
import './cluster.css';

/** Nodes heartbeat every second and count as down after 5 s of silence: a few seconds shows both. */
export const REFRESH_MS = 3_000;

const never = () => new Promise<never>(() => {});

/** Failovers kept on the page, as the server keeps them. */
const FAILOVERS_KEPT = 20;

/**
 * The fleet: every freshcache node grouped by the regions it serves, the Redis servers (on a
 * Redis Cluster: the slot ring, resharding with its progress, failovers), and on a `freshcache
 * up` deployment its processes with chaos actions. Polled and live; every action asks first.
 */
export function ClusterPage() {
  const api = useApi();
  const info = useInfo();
  const nodes = useAsync(useCallback(() => api.nodes(), [api]));
  // Only the control process of `up` has /api/chaos: elsewhere the page does not ask (a 404 per poll).
  const hasChaos = info?.chaos === true;
  const services = useAsync(useCallback(() => (hasChaos ? api.chaosServices() : never()), [api, hasChaos]));
  usePolling(nodes.reload, REFRESH_MS);
  usePolling(() => (hasChaos ? services.reload() : undefined), REFRESH_MS);

  // On a Redis Cluster: the last resharding (then each rebalance.progress event) and the failovers seen (then each redis.failover).
  const cluster = info?.features.cluster === true;
  const rebalance = useAsync(useCallback(() => (cluster ? api.rebalanceStatus() : never()), [api, cluster]));
  const seenFailovers = useAsync(useCallback(() => (cluster ? api.failovers() : never()), [api, cluster]));
  const [liveProgress, setLiveProgress] = useState<RebalanceProgress>();
  const [liveFailovers, setLiveFailovers] = useState<RedisFailover[]>([]);
  useEvent('rebalance.progress', (progress) => {
    setLiveProgress(progress);
    // The slots moved: the ring shows where they are now.
    if (!isRunning(progress)) void nodes.reload();
  });
  useEvent('redis.failover', (failover) => {
    setLiveFailovers((shown) => [failover, ...shown].slice(0, FAILOVERS_KEPT));
    void nodes.reload();
  });
  // After a reconnect the reloaded answers are newer than anything heard before it.
  useResync(() => {
    setLiveProgress(undefined);
    setLiveFailovers([]);
  });
  const progress = liveProgress ?? rebalance.data?.progress;
  const failovers = [...liveFailovers, ...(seenFailovers.data?.items ?? []).filter((f) => !liveFailovers.some((l) => l.at === f.at && l.promotedNode.id === f.promotedNode.id))];

  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<Error>();

  async function act(describe: string, action: () => Promise<unknown>) {
    setError(undefined);
    setNotice(undefined);
    try {
      await action();
      setNotice(describe);
    } catch (failure) {
      setError(failure as Error);
    }
    await Promise.all([nodes.reload(), hasChaos ? services.reload() : undefined]);
  }

  const drain = (id: string) => void act(`Draining ${id}: it leaves the list once done.`, () => api.drainNode(id));
  const chaos = (action: ChaosAction, target: string) => void act(`${target}: ${action} sent.`, () => api.chaos(action, target));
  // The 202 and the operation's events come on different connections: an event may be first, and is newer.
  const reshard = (describe: string, start: () => Promise<RebalanceProgress>) =>
    void act(describe, () => start().then((started) => setLiveProgress((heard) => (heard?.startedAt === started.startedAt ? heard : started))));
  const addNode = (address: string | undefined) =>
    reshard(`Adding ${address ?? 'a primary freshcache up starts'}: it joins, then slots move to it.`, () => api.rebalance('add-node', address));
  const removeNode = (address: string) => reshard(`Removing ${address}: its slots move away, then it leaves.`, () => api.rebalance('remove-node', address));
  const rebalanceSlots = () => reshard('Rebalancing the slots.', () => api.rebalance('rebalance'));
  // Drawn once /api/info said whether this is a cluster: a cluster must not flash as a standalone server.
  // Each new answer is laid out with the last layout's colours, so a primary keeps its colour as slots move.
  const [laidOut, setLaidOut] = useState<{ from: NodeList; cluster: boolean; layout: SlotLayout }>();
  if (nodes.data && info && (laidOut?.from !== nodes.data || laidOut.cluster !== cluster)) {
    setLaidOut({ from: nodes.data, cluster, layout: slotLayout(nodes.data.redis, cluster, laidOut?.layout.colours) });
  }
  const layout = laidOut?.layout;

  const groups = groupByRegion(nodes.data?.freshcache ?? [], info?.regions);
  return (
    <>
      <h1>Cluster</h1>
      <ErrorMessage error={error} onDismiss={() => setError(undefined)} />
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}

      <Panel title="freshcache nodes">
        <ErrorMessage error={nodes.error} />
        {!nodes.data ? (
          nodes.loading && <p className="muted">Loading…</p>
        ) : groups.length === 0 ? (
          <p className="muted">No node is registered.</p>
        ) : (
          groups.map((group) => (
            <FreshcacheNodeTable
              key={group.name}
              caption={group.name === '' ? 'No region (library instances, control)' : group.name}
              nodes={group.nodes}
              onDrain={drain}
            />
          ))
        )}
      </Panel>

      <Panel title="Redis">
        {nodes.data &&
          (nodes.data.redis.length === 0 ? (
            <p className="muted">No Redis: the log and the L2 are embedded in the process.</p>
          ) : (
            <>
              {!cluster && <p className="muted">Standalone Redis: no hash slots, one server holds every key (the ring shows it owning them all).</p>}
              {layout && (
                <div className="slot-map">
                  <SlotRing
                    layout={layout}
                    label={`Hash slot ring: ${layout.primaries.map((p) => `${p.node.address} ${p.slotCount.toLocaleString('en')} slots`).join(', ')}`}
                  />
                  <PrimaryLegend layout={layout} onRemove={cluster ? removeNode : undefined} busy={isRunning(progress) ? 'A resharding is running: one at a time.' : undefined} />
                </div>
              )}
              <RedisNodeTable nodes={nodes.data.redis} />
            </>
          ))}
      </Panel>

      {cluster && (
        <Panel title="Resharding">
          <ErrorMessage error={rebalance.error} />
          <ReshardingPanel progress={progress} onAdd={addNode} onRebalance={rebalanceSlots} upStarts={hasChaos} />
        </Panel>
      )}

      {cluster && (
        <Panel title="Failovers">
          <ErrorMessage error={seenFailovers.error} />
          <FailoverList failovers={failovers} />
        </Panel>
      )}

      {hasChaos && (
        <Panel title="Chaos">
          <p className="muted">The processes freshcache up supervises. Kill, restart, pause or resume one, and watch the nodes above.</p>
          <ErrorMessage error={services.error} />
          {services.data && <ChaosTable services={services.data} onAction={chaos} />}
        </Panel>
      )}
    </>
  );
}
