import type { InvalidationStatus } from '../../api/types';
import { RegionApplyBadge } from './RegionApplyBadge';

/** The purge just made, as each region applies it (the status is kept live by the page). */
export function PurgeProgress({ status, regions }: { status: InvalidationStatus; regions: readonly string[] }) {
  return (
    <div className="purge-progress" role="status">
      <p>
        Purge <strong>#{status.id}</strong> published: {status.complete ? 'applied in every region.' : 'applying…'}
      </p>
      <ul className="region-progress">
        {regions.map((region) => (
          <li key={region}>
            {region} <RegionApplyBadge apply={status.regions[region]} />
          </li>
        ))}
      </ul>
    </div>
  );
}
