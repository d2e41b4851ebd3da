import type { RedisNode } from '../../api/types';
import { formatBytes, formatRate } from '../../lib/format';

const count = (value: number | null) => (value === null ? '—' : value.toLocaleString('en'));

/** The Redis servers behind the log and the L2: role, health, keys, memory, ops/s. */
export function RedisNodeTable({ nodes }: { nodes: readonly RedisNode[] }) {
  return (
    <div className="table-wrap cluster-table">
      <table className="cluster-nodes">
        <caption className="visually-hidden">Redis servers</caption>
        <thead>
          <tr>
            <th scope="col">Address</th>
            <th scope="col">Role</th>
            <th scope="col">Health</th>
            <th scope="col" className="num">
              Slots
            </th>
            <th scope="col" className="num">
              Keys
            </th>
            <th scope="col" className="num">
              Memory
            </th>
            <th scope="col" className="num">
              Ops/s
            </th>
            <th scope="col" className="num">
              Repl. offset
            </th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((node) => (
            <tr key={node.id}>
              <th scope="row">
                <code>{node.address}</code>
                {node.id !== node.address && <div className="muted node-roles">{node.id.slice(0, 12)}</div>}
              </th>
              <td>
                {node.role}
                {node.masterId && <div className="muted node-roles">of {node.masterId.slice(0, 12)}</div>}
              </td>
              <td>
                <span className={`badge redis-health ${node.health}`}>{node.health}</span>
              </td>
              <td className="num">{node.slots.length === 0 ? '—' : node.slots.reduce((sum, [first, last]) => sum + last - first + 1, 0).toLocaleString('en')}</td>
              <td className="num">{count(node.keys)}</td>
              <td className="num">{node.memoryBytes === null ? '—' : formatBytes(node.memoryBytes)}</td>
              <td className="num">{node.opsPerSec === null ? '—' : formatRate(node.opsPerSec)}</td>
              <td className="num">{count(node.replicationOffset)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
