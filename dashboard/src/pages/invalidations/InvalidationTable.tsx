import type { InvalidationStatus } from '../../api/types';
import { formatClock } from '../../lib/format';
import { RegionApplyBadge } from './RegionApplyBadge';
import { TargetList } from './TargetList';

/** Invalidations, one a row, with a column per region saying when it applied each. */
export function InvalidationTable({ items, regions }: { items: readonly InvalidationStatus[]; regions: readonly string[] }) {
  return (
    <div className="table-wrap">
      <table className="invalidation-table">
        <caption className="visually-hidden">Recent invalidations, newest first, with each region's lag after the commit</caption>
        <thead>
          <tr>
            <th scope="col" className="num">
              ID
            </th>
            <th scope="col">Source</th>
            <th scope="col">Targets</th>
            <th scope="col">Committed</th>
            {regions.map((region) => (
              <th key={region} scope="col">
                {region}
              </th>
            ))}
            <th scope="col">Complete</th>
          </tr>
        </thead>
        <tbody>
          {items.map((status) => (
            <tr key={status.id}>
              <td className="num">{status.id}</td>
              <td>{status.source}</td>
              <td>
                <TargetList targets={status} />
              </td>
              <td>{formatClock(status.committedAt)}</td>
              {regions.map((region) => (
                <td key={region}>
                  <RegionApplyBadge apply={status.regions[region]} />
                </td>
              ))}
              <td>{status.complete ? <span className="badge applied">complete</span> : <span className="badge pending">in progress</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
