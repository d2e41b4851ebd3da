import type { RedisFailover } from '../../api/types';
import { formatClock } from '../../lib/format';
import { countSlots } from './slot-layout';

/** The Redis Cluster failovers the server saw, newest first: which primary failed, which replica took over, how many slots. */
export function FailoverList({ failovers }: { failovers: readonly RedisFailover[] }) {
  if (failovers.length === 0) return <p className="muted">No failover seen. The server watches the cluster while this page is open.</p>;
  return (
    <ul className="failovers" aria-label="Failovers">
      {failovers.map((failover) => (
        <li key={`${failover.at}-${failover.promotedNode.id}`}>
          <time dateTime={new Date(failover.at).toISOString()}>{formatClock(failover.at)}</time> <code>{failover.failedNode.address}</code> failed over to{' '}
          <code>{failover.promotedNode.address}</code> <span className="muted">({countSlots(failover.slots).toLocaleString('en')} slots)</span>
        </li>
      ))}
    </ul>
  );
}
