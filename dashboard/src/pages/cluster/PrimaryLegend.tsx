import type { RedisNode } from '../../api/types';
import { ConfirmButton } from '../../components/ConfirmButton';
import type { SlotLayout } from './slot-layout';

const count = (value: number | null) => (value === null ? '—' : value.toLocaleString('en'));

function RemoveButton({ node, slots, busy, onRemove }: { node: RedisNode; slots: number; busy: string | undefined; onRemove: (address: string) => void }) {
  return (
    <ConfirmButton
      label={`Remove ${node.address}`}
      question={
        <>
          Remove primary <code>{node.address}</code> from the cluster?{' '}
          {slots > 0 ? `Its ${slots.toLocaleString('en')} slots and their keys move to the other primaries first; ` : ''}
          its replicas follow another primary, and the server keeps running outside the cluster.
        </>
      }
      confirmLabel={`Remove ${node.address}`}
      disabledReason={busy}
      onConfirm={() => onRemove(node.address)}
    >
      Remove
    </ConfirmButton>
  );
}

/**
 * Each primary in its ring colour, with its slots and keys, and its replicas under it (health,
 * replication offset, and how many bytes of the primary's stream they still lack). With
 * `onRemove`, each primary of a cluster can be removed (after a confirmation).
 */
export function PrimaryLegend({ layout, onRemove, busy }: { layout: SlotLayout; onRemove?: (address: string) => void; busy?: string }) {
  return (
    <div className="slot-legend">
      <ul aria-label="Primaries">
        {layout.primaries.map((primary) => (
          <li key={primary.node.id} aria-label={`Primary ${primary.node.address}`} className="slot-primary">
            <div className="row slot-primary-head">
              <span className="swatch" style={{ background: primary.colour }} data-colour={primary.colour} aria-hidden="true" />
              <code>{primary.node.address}</code>
              <span className={`badge redis-health ${primary.node.health}`}>{primary.node.health}</span>
              <span className="muted">
                {primary.slotCount.toLocaleString('en')} slots · {count(primary.node.keys)} keys
              </span>
              {onRemove && <RemoveButton node={primary.node} slots={primary.slotCount} busy={busy} onRemove={onRemove} />}
            </div>
            {primary.replicas.length === 0 ? (
              <p className="muted slot-replicas">No replica: if it fails, its slots are down until it returns.</p>
            ) : (
              <ul className="slot-replicas" aria-label={`Replicas of ${primary.node.address}`}>
                {primary.replicas.map((replica) => (
                  <li key={replica.id}>
                    replica <code>{replica.address}</code> <span className={`badge redis-health ${replica.health}`}>{replica.health}</span>{' '}
                    <span className="muted">
                      offset {count(replica.replicationOffset)}
                      {replica.lagBytes !== null && ` · ${replica.lagBytes === 0 ? 'in sync' : `${replica.lagBytes.toLocaleString('en')} bytes behind`}`}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ul>
      {layout.others.length > 0 && (
        <ul aria-label="Nodes serving no slot" className="slot-others">
          {layout.others.map((node) => (
            <li key={node.id} className="row">
              <code>{node.address}</code> <span className="muted">{node.role}, no slots</span> <span className={`badge redis-health ${node.health}`}>{node.health}</span>
              {onRemove && node.role === 'master' && <RemoveButton node={node} slots={0} busy={busy} onRemove={onRemove} />}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
