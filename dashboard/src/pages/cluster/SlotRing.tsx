import { SLOTS } from './slot-layout';
import type { SlotLayout } from './slot-layout';

const CENTRE = 100;
const OUTER = 92;
const INNER = 64;

/** The point at `slot` on a circle of `radius`, slot 0 at the top, clockwise. */
function point(slot: number, radius: number): string {
  const angle = (slot / SLOTS) * 2 * Math.PI - Math.PI / 2;
  return `${(CENTRE + radius * Math.cos(angle)).toFixed(3)} ${(CENTRE + radius * Math.sin(angle)).toFixed(3)}`;
}

/** A band of the ring from slot `from` to slot `to` (exclusive); SVG cannot draw a whole circle as one arc, so the caller halves long ones. */
function band(from: number, to: number): string {
  const large = to - from > SLOTS / 2 ? 1 : 0;
  return `M ${point(from, OUTER)} A ${OUTER} ${OUTER} 0 ${large} 1 ${point(to, OUTER)} L ${point(to, INNER)} A ${INNER} ${INNER} 0 ${large} 0 ${point(from, INNER)} Z`;
}

function bands(first: number, last: number): string {
  const end = last + 1;
  if (end - first <= SLOTS / 2) return band(first, end);
  const middle = Math.floor((first + end) / 2);
  return `${band(first, middle)} ${band(middle, end)}`;
}

/** The 16,384 hash slots as a ring, each primary's ranges in its colour; slots no primary serves in grey. */
export function SlotRing({ layout, label }: { layout: SlotLayout; label: string }) {
  const unserved = layout.segments.filter((s) => s.primary === null).reduce((sum, s) => sum + s.last - s.first + 1, 0);
  return (
    <svg className="slot-ring" viewBox="0 0 200 200" role="img" aria-label={label}>
      {layout.segments.map((segment) => {
        const primary = segment.primary === null ? undefined : layout.primaries[segment.primary];
        const range = segment.first === segment.last ? `slot ${segment.first}` : `slots ${segment.first}–${segment.last}`;
        return (
          <path
            key={segment.first}
            d={bands(segment.first, segment.last)}
            fill={primary?.colour ?? 'var(--border)'}
            data-primary={primary?.node.address ?? ''}
            className="slot-range"
          >
            <title>{primary ? `${range}: ${primary.node.address}` : `${range}: no primary serves them`}</title>
          </path>
        );
      })}
      <text x={CENTRE} y={CENTRE - 4} textAnchor="middle" className="slot-ring-total">
        {SLOTS.toLocaleString('en')}
      </text>
      <text x={CENTRE} y={CENTRE + 12} textAnchor="middle" className="slot-ring-caption">
        {unserved === 0 ? 'slots, all served' : `slots, ${unserved.toLocaleString('en')} unserved`}
      </text>
    </svg>
  );
}
