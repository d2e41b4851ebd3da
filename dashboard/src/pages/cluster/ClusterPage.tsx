import { useCallback, useState } from 'react';
import type { ChaosAction } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Panel } from '../../components/Panel';
import { useApi, useAsync } from '../../lib/api-context';
import { useInfo } from '../../lib/info-context';
import { usePolling } from '../overview/usePolling';
import { ChaosTable } from './ChaosTable';
import { FreshcacheNodeTable } from './FreshcacheNodeTable';
import { groupByRegion } from './group-by-region';
import { RedisNodeTable } from './RedisNodeTable';
import './cluster.css';

/** Nodes heartbeat every second and count as down after 5 s of silence: a few seconds shows both. */
export const REFRESH_MS = 3_000;

const never = () => new Promise<never>(() => {});

/**
 * The fleet: every freshcache node grouped by the regions it serves, the Redis servers, and on a
 * `freshcache up` deployment its processes with chaos actions. Polled; every action asks first.
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
            <RedisNodeTable nodes={nodes.data.redis} />
          ))}
      </Panel>

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
