import type { RegionApply } from '../../api/types';
import { formatClock, formatMs } from '../../lib/format';

/** When one region applied an invalidation: its lag after the commit, or pending / skipped. */
export function RegionApplyBadge({ apply }: { apply: RegionApply | undefined }) {
  if (!apply) return <span className="muted">—</span>;
  // A region in ttl mode ignores cdc events: it has an appliedAt, but nothing was purged.
  if (apply.skipped) return <span className="badge skipped">skipped</span>;
  if (apply.appliedAt === null) return <span className="badge pending">pending</span>;
  return (
    <span className="badge applied" title={`applied at ${formatClock(apply.appliedAt)}`}>
      {formatMs(apply.lagMs)}
    </span>
  );
}
