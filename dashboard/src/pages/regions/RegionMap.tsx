import type { CSSProperties } from 'react';
import type { RegionSettings } from '../../api/types';
import { formatMs } from '../../lib/format';
import { LAND_PATH, MAP_HEIGHT, MAP_WIDTH, ORIGIN, WATER_PATH, placeRegions } from './mapGeometry';
import { describeLanding, ordinal } from './propagation';
import type { Landing } from './propagation';

/**
 * The origin and the regions on a world map, a line from the origin to each. While an
 * invalidation travels, its line is dashed and a dot moves along it for the region's delay; when
 * it lands the region turns green with its measured lag and its place in the landing order.
 * `followedId` restarts the travel animation for each new invalidation.
 */
export function RegionMap({ regions, landings, followedId }: { regions: RegionSettings[]; landings: Record<string, Landing>; followedId: number | undefined }) {
  const places = placeRegions(regions.map((r) => r.name));
  const summary = regions.map((r) => `${r.name} (${formatMs(r.delayMs)}): ${describeLanding(landings[r.name]!)}`).join('; ');
  return (
    <svg className="region-map" viewBox={`0 0 ${MAP_WIDTH} ${MAP_HEIGHT}`} role="img" aria-label={`Map of the origin and the regions. ${summary}`}>
      <path className="land" d={LAND_PATH} />
      <path className="water" d={WATER_PATH} />
      {regions.map((region) => {
        const place = places[region.name]!;
        const landing = landings[region.name]!;
        const style = { '--region': `var(--${region.name}, var(--accent))` } as CSSProperties;
        return (
          <g key={region.name} className={`route ${landing.state}`} style={style}>
            <line x1={ORIGIN.x} y1={ORIGIN.y} x2={place.x} y2={place.y} />
            {landing.state === 'pending' && (
              <circle
                key={followedId}
                className="packet"
                cx={ORIGIN.x}
                cy={ORIGIN.y}
                r={6}
                style={{ '--dx': `${place.x - ORIGIN.x}px`, '--dy': `${place.y - ORIGIN.y}px`, animationDuration: `${region.delayMs}ms` } as CSSProperties}
              />
            )}
          </g>
        );
      })}
      <g className="origin" transform={`translate(${ORIGIN.x} ${ORIGIN.y})`}>
        <rect x={-52} y={-18} width={104} height={36} rx={8} />
        <text y={6}>origin</text>
      </g>
      {regions.map((region) => {
        const place = places[region.name]!;
        const landing = landings[region.name]!;
        const style = { '--region': `var(--${region.name}, var(--accent))` } as CSSProperties;
        return (
          <g key={region.name} className={`node ${landing.state}`} transform={`translate(${place.x} ${place.y})`} style={style}>
            <circle r={13} />
            {landing.rank !== null && (
              <text className="rank" y={5}>
                {landing.rank}
              </text>
            )}
            <text className="name" y={-50}>
              {region.name}
            </text>
            <text className="detail" y={-32}>
              {formatMs(region.delayMs)} · {region.strategy} · {region.mode}
            </text>
            {landing.state !== 'idle' && (
              <text className="state" y={-16}>
                {describeLanding(landing)}
                {landing.rank !== null && <tspan className="rank-word"> · {ordinal(landing.rank)}</tspan>}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}
