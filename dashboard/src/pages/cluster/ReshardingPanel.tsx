import { useId, useState } from 'react';
import type { RebalanceProgress } from '../../api/types';
import { ConfirmButton } from '../../components/ConfirmButton';
import { formatClock } from '../../lib/format';

const OPERATIONS: Record<RebalanceProgress['operation'], string> = { 'add-node': 'Adding', 'remove-node': 'Removing', rebalance: 'Rebalancing' };

export const isRunning = (progress: RebalanceProgress | undefined | null) => progress != null && progress.phase !== 'done' && progress.phase !== 'failed';

function Progress({ progress }: { progress: RebalanceProgress }) {
  const what = `${OPERATIONS[progress.operation]}${progress.node ? ` ${progress.node}` : ''}`;
  const planned = Math.max(progress.plannedSlots, progress.movedSlots);
  return (
    <div className="resharding-running" role="status">
      <p>
        {what}: <strong>{progress.phase}</strong>, {progress.movedSlots.toLocaleString('en')} of {planned.toLocaleString('en')} slots moved
      </p>
      <progress aria-label={`${what}: slots moved`} max={planned || 1} value={planned === 0 ? 0 : progress.movedSlots} />
      {progress.moves.length > 0 && (
        <ul className="muted resharding-moves">
          {progress.moves.map((move, index) => (
            <li key={index}>
              {move.slots.toLocaleString('en')} slots from <code>{move.from}</code> to <code>{move.to}</code>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Finished({ progress }: { progress: RebalanceProgress }) {
  const what = `${progress.operation}${progress.node ? ` ${progress.node}` : ''}`;
  const when = progress.finishedAt === null ? '' : ` at ${formatClock(progress.finishedAt)}`;
  return progress.phase === 'done' ? (
    <p className="resharding-done">
      Last: {what} done{when}, {progress.movedSlots.toLocaleString('en')} slots moved.
    </p>
  ) : (
    <p className="resharding-failed">
      Last: {what} failed{when} after {progress.movedSlots.toLocaleString('en')} slots: {progress.error}
    </p>
  );
}

/**
 * The resharding of the Redis Cluster: the running operation with its progress, or the last one
 * (done, or failed and why); and the actions to add a primary or rebalance, each after a
 * confirmation. Removing a primary is offered next to each primary.
 */
export function ReshardingPanel({
  progress,
  onAdd,
  onRebalance,
  upStarts = false,
}: {
  progress: RebalanceProgress | null | undefined;
  /** `address` undefined: `freshcache up` starts the new server. */
  onAdd: (address: string | undefined) => void;
  onRebalance: () => void;
  /** On the control process of `freshcache up`, which starts a new redis-server when no address is given. */
  upStarts?: boolean;
}) {
  const [address, setAddress] = useState('');
  const inputId = useId();
  const running = isRunning(progress);
  const busy = running ? 'A resharding is running: one at a time.' : undefined;
  const node = address.trim();
  return (
    <>
      {!progress ? <p className="muted">No resharding has run on this process.</p> : running ? <Progress progress={progress} /> : <Finished progress={progress} />}
      <div className="row resharding-actions">
        <label htmlFor={inputId}>
          New primary
          <input id={inputId} value={address} placeholder={upStarts ? 'host:port, or none: up starts one' : 'host:port'} spellCheck={false} onChange={(event) => setAddress(event.target.value)} />
        </label>
        {node === '' && upStarts ? (
          <ConfirmButton
            className="primary"
            question="Add a primary? freshcache up starts a new redis-server in cluster mode and supervises it; it joins, and a share of the slots moves to it, keys and all."
            confirmLabel="Add a new primary"
            disabledReason={busy}
            onConfirm={() => onAdd(undefined)}
          >
            Add node
          </ConfirmButton>
        ) : (
          <ConfirmButton
            className="primary"
            question={
              <>
                Add <code>{node}</code> as a primary? It must be a running, empty redis-server with cluster mode on. It joins, and a share of the slots
                moves to it, keys and all.
              </>
            }
            confirmLabel={`Add ${node}`}
            disabledReason={busy ?? (node === '' ? 'Type the host:port of the new server.' : undefined)}
            onConfirm={() => onAdd(node)}
          >
            Add node
          </ConfirmButton>
        )}
        <ConfirmButton
          className="primary"
          question="Rebalance the slots? Slots move, keys and all, until every primary serves about as many."
          confirmLabel="Rebalance"
          disabledReason={busy}
          onConfirm={onRebalance}
        >
          Rebalance
        </ConfirmButton>
      </div>
    </>
  );
}
