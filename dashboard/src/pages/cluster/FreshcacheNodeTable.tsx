import type { FreshcacheNode } from '../../api/types';
import { ConfirmButton } from '../../components/ConfirmButton';
import { formatBytes, formatClock, formatMs, formatPercent } from '../../lib/format';

/** Why a node cannot be drained from here, or undefined when it can. */
function drainRefusal(node: FreshcacheNode): string | undefined {
  if (!node.drainable) return 'A library instance: its service stops it.';
  if (node.status.health === 'draining') return 'Draining.';
  return undefined;
}

/** The freshcache nodes of one group, each with its figures and its Drain action. */
export function FreshcacheNodeTable({ caption, nodes, onDrain }: { caption: string; nodes: readonly FreshcacheNode[]; onDrain: (id: string) => void }) {
  return (
    <div className="table-wrap cluster-table">
      <table className="cluster-nodes">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">State</th>
            <th scope="col">Health</th>
            <th scope="col" className="num">
              Lag p99
            </th>
            <th scope="col" className="num">
              Hit ratio
            </th>
            <th scope="col" className="num">
              L1 entries
            </th>
            <th scope="col" className="num">
              L1 bytes
            </th>
            <th scope="col">Breaker</th>
            <th scope="col">Version</th>
            <th scope="col">Last seen</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((node) => (
            <tr key={node.id} className={`node-${node.state}`}>
              <th scope="row">
                <code>{node.id}</code>
                <div className="muted node-roles">{node.roles.join(', ')}</div>
              </th>
              <td>
                <span className={`badge node-state ${node.state}`}>{node.state}</span>
              </td>
              <td>
                <span className={`badge node-health ${node.status.health}`}>{node.status.health}</span>
              </td>
              <td className="num">{formatMs(node.status.lagP99Ms)}</td>
              <td className="num">{formatPercent(node.status.hitRatio)}</td>
              <td className="num">{node.status.l1.entries.toLocaleString('en')}</td>
              <td className="num">{formatBytes(node.status.l1.bytes)}</td>
              <td>{node.status.breaker ?? '—'}</td>
              <td>{node.version}</td>
              <td>
                <time dateTime={new Date(node.lastSeenAt).toISOString()}>{formatClock(node.lastSeenAt)}</time>
              </td>
              <td>
                <ConfirmButton
                  label={`Drain ${node.id}`}
                  question={
                    <>
                      Drain <code>{node.id}</code>? It stops taking work, finishes the events it holds, leaves its consumer groups and
                      deregisters. Its process keeps running until it is stopped.
                    </>
                  }
                  confirmLabel={`Drain ${node.id}`}
                  disabledReason={drainRefusal(node)}
                  onConfirm={() => onDrain(node.id)}
                >
                  Drain
                </ConfirmButton>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
