import type { DryRunResult } from '../../api/types';
import { orderRegions } from '../../lib/regions';
import { TargetList } from './TargetList';

/** Keys listed per region; the server lists up to 1000, more would only make the page long. */
const SHOWN = 50;

/** What a purge would hit now, region by region (the answer of a dry run). */
export function DryRunPreview({ result, configured }: { result: DryRunResult; configured?: readonly string[] }) {
  const regions = orderRegions(Object.keys(result.regions), configured);
  const total = regions.reduce((sum, region) => sum + (result.regions[region]?.total ?? 0), 0);
  // A region whose walk ran out of budget counted only the keys it examined.
  const atLeast = regions.some((region) => result.regions[region]?.partial) ? 'at least ' : '';
  return (
    <section className="dry-run" aria-label="Preview">
      <p>
        Purging these targets would drop {atLeast}
        <strong>{total}</strong> {total === 1 ? 'entry' : 'entries'} held now across {regions.length}{' '}
        {regions.length === 1 ? 'region' : 'regions'}. Nothing was purged yet.
      </p>
      <TargetList targets={result} />
      <div className="grid">
        {regions.map((region) => {
          const { keys, total: count, partial } = result.regions[region]!;
          return (
            <section key={region} aria-label={`Preview ${region}`}>
              <h3>
                {region}: {partial ? 'at least ' : ''}
                {count} {count === 1 ? 'key' : 'keys'}
              </h3>
              {keys.length > 0 && (
                <ul className="key-list">
                  {keys.slice(0, SHOWN).map((key) => (
                    <li key={key}>
                      <code>{key}</code>
                    </li>
                  ))}
                </ul>
              )}
              {count > Math.min(keys.length, SHOWN) && <p className="muted">and {count - Math.min(keys.length, SHOWN)} more</p>}
            </section>
          );
        })}
      </div>
    </section>
  );
}
