import type { KeyPages } from './useKeyPages';

/** The API examines at most this many keys for one page. */
const KEYS_EXAMINED_PER_PAGE = 5000;

/** What the page shown holds, and why a short page still has a next one. */
function summary({ page, number, search }: KeyPages): string | undefined {
  if (!page) return undefined;
  if (page.cursor === null) {
    if (page.items.length === 0) return number === 1 ? 'No key matches this search.' : 'No more keys.';
    return 'No more keys after these.';
  }
  // A filter that matches few keys gives short or empty pages: only a null cursor ends the search.
  if (page.items.length === 0) return `This page examined up to ${KEYS_EXAMINED_PER_PAGE.toLocaleString('en')} keys without a match; more keys follow: keep going with Next page.`;
  if (page.items.length < search.limit) return `This page examined up to ${KEYS_EXAMINED_PER_PAGE.toLocaleString('en')} keys and found ${page.items.length}; more keys follow: keep going with Next page.`;
  return undefined;
}

/** Previous / Next through the pages of the current search, with the page number. */
export function KeyPager({ pages }: { pages: KeyPages }) {
  const text = summary(pages);
  return (
    <div className="keys-pager">
      <nav className="row" aria-label="Pages of keys">
        <button type="button" onClick={pages.previous} disabled={pages.number === 1 || pages.loading}>
          Previous page
        </button>
        <span aria-live="polite">Page {pages.number}</span>
        <button type="button" onClick={pages.next} disabled={!pages.page?.cursor || pages.loading}>
          Next page
        </button>
        <button type="button" onClick={pages.reload} disabled={pages.loading}>
          Reload
        </button>
      </nav>
      <p className="muted" role="status">
        {pages.loading ? 'Loading…' : text}
      </p>
    </div>
  );
}
