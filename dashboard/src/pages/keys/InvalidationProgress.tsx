import type { InvalidationStatus } from '../../api/types';
import { formatMs } from '../../lib/format';

/** One invalidation this page published, and which regions applied it so far. */
export function InvalidationProgress({ status, regions }: { status: InvalidationStatus; regions: readonly string[] }) {
  // The configured order first, so regions keep their place; any other region the status names after.
  const names = [...regions.filter((name) => name in status.regions), ...Object.keys(status.regions).filter((name) => !regions.includes(name))];
  const count = status.keys.length;
  return (
    <div className="keys-progress">
      <p>
        Invalidation <strong>#{status.id}</strong> of {count} {count === 1 ? 'key' : 'keys'}: {status.complete ? 'applied in every region.' : 'applying…'}
      </p>
      <ul aria-label={`Regions of invalidation #${status.id}`}>
        {names.map((name) => {
          const apply = status.regions[name];
          const applied = apply?.appliedAt != null;
          return (
            <li key={name}>
              {name}{' '}
              <span className={`badge ${applied ? 'applied' : 'pending'}`}>{applied ? `applied (${formatMs(apply?.lagMs)})` : 'pending'}</span>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
