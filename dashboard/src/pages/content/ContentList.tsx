import type { ContentRecord } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import type { ContentList as List } from './useContentList';

/** The origin's articles; picking one opens it in the edit form and the read-through. */
export function ContentList({ list, selectedId, onSelect }: { list: List; selectedId: number | undefined; onSelect: (record: ContentRecord) => void }) {
  return (
    <div className="stack">
      <ErrorMessage error={list.error} />
      <div className="table-wrap content-list">
        <table>
          <thead>
            <tr>
              <th>Slug</th>
              <th>Title</th>
              <th className="num">Version</th>
              <th>Tags</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((item) => (
              <tr key={item.id} className={item.id === selectedId ? 'selected' : undefined}>
                <td>
                  <button type="button" className="link" aria-pressed={item.id === selectedId} onClick={() => onSelect(item)}>
                    {item.slug}
                  </button>
                </td>
                <td>{item.title}</td>
                <td className="num">{item.version}</td>
                <td className="muted">{item.tags.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!list.loading && list.items.length === 0 && !list.error && <p className="muted">No content at the origin yet: create some below.</p>}
      <div className="row">
        {list.hasMore && (
          <button type="button" onClick={list.loadMore} disabled={list.loading}>
            Load more
          </button>
        )}
        {list.loading && <span className="muted" role="status">Loading…</span>}
      </div>
    </div>
  );
}
