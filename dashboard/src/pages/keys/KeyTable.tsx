import type { CacheItem } from '../../api/types';
import { formatBytes, formatMs } from '../../lib/format';

/**
 * One page of keys. The checkboxes select keys to invalidate (the heading one: every key of this
 * page); a key is a button that opens its entry.
 */
export function KeyTable({
  items,
  selected,
  onSelect,
  onOpen,
}: {
  items: readonly CacheItem[];
  selected: ReadonlySet<string>;
  onSelect: (keys: string[], on: boolean) => void;
  /** `button` is the key's, to give the focus back to when the entry closes. */
  onOpen: (item: CacheItem, button: HTMLButtonElement) => void;
}) {
  const chosen = items.filter((item) => selected.has(item.key)).length;
  const all = items.length > 0 && chosen === items.length;
  return (
    <div className="table-wrap">
      <table className="keys-table">
        <caption className="visually-hidden">Cached keys</caption>
        <thead>
          <tr>
            <th>
              <input
                type="checkbox"
                aria-label="Select every key on this page"
                checked={all}
                // Some but not all: neither checked nor empty, as the user sees it.
                ref={(box) => {
                  if (box) box.indeterminate = chosen > 0 && !all;
                }}
                disabled={items.length === 0}
                onChange={() =>
                  onSelect(
                    items.map((item) => item.key),
                    !all,
                  )
                }
              />
            </th>
            <th>Key</th>
            <th>Tier</th>
            <th>State</th>
            <th className="num">Version</th>
            <th>Tags</th>
            <th className="num">Age</th>
            <th className="num">TTL left</th>
            <th className="num">Size</th>
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <tr key={item.key}>
              <td>
                <input type="checkbox" aria-label={`Select ${item.key}`} checked={selected.has(item.key)} onChange={(e) => onSelect([item.key], e.target.checked)} />
              </td>
              <td className="keys-key">
                <button type="button" className="link keys-key-button" onClick={(event) => onOpen(item, event.currentTarget)}>
                  {item.key}
                </button>
              </td>
              <td>{item.tier.toUpperCase()}</td>
              <td>
                <span className={`badge ${item.state}`}>{item.state}</span>
              </td>
              <td className="num">{item.version ?? '—'}</td>
              <td className="keys-tags">{item.tags.length === 0 ? <span className="muted">—</span> : item.tags.join(', ')}</td>
              <td className="num">{formatMs(item.ageMs)}</td>
              <td className="num">{formatMs(item.ttlMs)}</td>
              <td className="num">{formatBytes(item.size)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
