import type { RegionSettings } from '../../api/types';
import { formatClock } from '../../lib/format';
import type { Landing } from './propagation';
import type { Followed } from './useInvalidationFollower';

/** The followed invalidation in one sentence: what caused it, what it targets, the order it landed in. */
export function FollowedSummary({ followed, regions, states }: { followed: Followed | undefined; regions: RegionSettings[]; states: Record<string, Landing> }) {
  let text: string;
  if (!followed) text = 'Edit an article or purge something, and watch its invalidation reach each region.';
  else if (!followed.status) text = `${followed.label}: waiting for its invalidation to be published…`;
  else {
    const { id, source, keys, tags, prefixes, publishedAt, complete } = followed.status;
    const targets = [...keys, ...tags.map((t) => `tag ${t}`), ...prefixes.map((p) => `prefix ${p}*`)].join(', ');
    const order = regions
      .filter((r) => states[r.name]!.rank !== null)
      .sort((a, b) => states[a.name]!.rank! - states[b.name]!.rank!)
      .map((r) => r.name);
    const skipped = regions.filter((r) => states[r.name]!.state === 'skipped').map((r) => r.name);
    const outcome = [order.length > 0 && `landed in ${order.join(' → ')}`, skipped.length > 0 && `skipped in ${skipped.join(', ')} (ttl mode)`].filter(Boolean).join('; ');
    text = `${followed.label}: invalidation #${id} (${source}: ${targets}), published ${formatClock(publishedAt)}, ${outcome || 'not landed anywhere yet'}${complete ? ' (complete)' : ''}.`;
  }
  return (
    <p className="followed" role="status">
      {text}
    </p>
  );
}
