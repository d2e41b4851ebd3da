import type { CSSProperties } from 'react';
import type { Mode, RegionPatch, RegionSettings, Strategy } from '../../api/types';
import { formatMs } from '../../lib/format';
import { describeLanding, ordinal } from './propagation';
import type { Landing } from './propagation';

/**
 * One card per region: its delay and TTL, its strategy and mode (changed here), and in words
 * where the followed invalidation stands in it (the map says the same in colour).
 */
export function RegionList({ regions, landings, saving, onChange }: { regions: RegionSettings[]; landings: Record<string, Landing>; saving: ReadonlySet<string>; onChange: (name: string, patch: RegionPatch) => void }) {
  return (
    <ul className="region-cards">
      {regions.map((region) => {
        const landing = landings[region.name]!;
        const headingId = `region-card-${region.name}`;
        return (
          <li key={region.name} aria-labelledby={headingId} style={{ '--region': `var(--${region.name}, var(--accent))` } as CSSProperties}>
            <h3 id={headingId}>{region.name}</h3>
            <p className="muted">
              delay {formatMs(region.delayMs)} · TTL {formatMs(region.ttlMs)}
              {!region.served && ' · served by other processes: a change here reaches them through the log'}
            </p>
            <div className="row">
              <label>
                Strategy
                <select aria-label={`Strategy of ${region.name}`} value={region.strategy} disabled={saving.has(region.name)} onChange={(e) => onChange(region.name, { strategy: e.target.value as Strategy })}>
                  <option value="eager">eager</option>
                  <option value="lazy">lazy</option>
                </select>
              </label>
              <label>
                Mode
                <select aria-label={`Mode of ${region.name}`} value={region.mode} disabled={saving.has(region.name)} onChange={(e) => onChange(region.name, { mode: e.target.value as Mode })}>
                  <option value="cdc">cdc</option>
                  <option value="ttl">ttl</option>
                </select>
              </label>
            </div>
            <p className="landing">
              Latest invalidation:{' '}
              {landing.state === 'idle' ? (
                <span className="muted">none followed yet</span>
              ) : (
                <>
                  <span className={`badge ${landing.state}`}>{describeLanding(landing)}</span>
                  {landing.rank !== null && <strong> {ordinal(landing.rank)}</strong>}
                </>
              )}
            </p>
          </li>
        );
      })}
    </ul>
  );
}
