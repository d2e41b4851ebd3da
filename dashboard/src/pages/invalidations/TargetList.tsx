import type { InvalidationTargets } from '../../api/types';

const SHOWN = 5;

/** What an invalidation names, by kind; long lists are cut to a few, with how many more. */
export function TargetList({ targets }: { targets: InvalidationTargets }) {
  const kinds = (['keys', 'tags', 'prefixes'] as const).filter((kind) => (targets[kind]?.length ?? 0) > 0);
  if (kinds.length === 0) return <span className="muted">—</span>;
  return (
    <ul className="target-list">
      {kinds.map((kind) => {
        const items = targets[kind]!;
        return (
          <li key={kind}>
            <span className="muted">{kind}:</span> <code>{items.slice(0, SHOWN).join(' ')}</code>
            {items.length > SHOWN && <span className="muted"> and {items.length - SHOWN} more</span>}
          </li>
        );
      })}
    </ul>
  );
}
