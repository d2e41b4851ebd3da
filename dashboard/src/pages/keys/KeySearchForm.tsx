import { useState } from 'react';
import type { FormEvent } from 'react';
import { PAGE_SIZES } from './key-search';
import type { KeySearch, SearchMode } from './key-search';

/**
 * Region, prefix or tag, page size. Nothing is searched until the form is submitted (the button
 * or Enter in the search field), so a half-typed tag never reaches the server.
 */
export function KeySearchForm({ regions, initial, onSearch }: { regions: readonly string[]; initial: KeySearch; onSearch: (search: KeySearch) => void }) {
  const [draft, setDraft] = useState(initial);
  // Before the server's regions are known, '' stands for its default region (the first configured one).
  const region = draft.region || regions[0] || '';

  function edit(change: Partial<KeySearch>) {
    setDraft((d) => ({ ...d, ...change }));
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    // A tag never has spaces; a key prefix may, so it is sent as typed.
    onSearch({ ...draft, region, text: draft.mode === 'tag' ? draft.text.trim() : draft.text });
  }

  return (
    <form className="row keys-search" role="search" aria-label="Search keys" onSubmit={submit}>
      <label>
        Region
        <select value={region} onChange={(e) => edit({ region: e.target.value })}>
          {regions.length === 0 ? (
            <option value="">default</option>
          ) : (
            regions.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))
          )}
        </select>
      </label>
      <label>
        Search by
        <select value={draft.mode} onChange={(e) => edit({ mode: e.target.value as SearchMode })}>
          <option value="prefix">key prefix</option>
          <option value="tag">tag</option>
        </select>
      </label>
      <label className="keys-search-text">
        {draft.mode === 'prefix' ? 'Key prefix' : 'Tag'}
        <input
          type="search"
          value={draft.text}
          placeholder={draft.mode === 'prefix' ? 'content: (empty: every key)' : 'news'}
          onChange={(e) => edit({ text: e.target.value })}
        />
      </label>
      <label>
        Page size
        <select value={draft.limit} onChange={(e) => edit({ limit: Number(e.target.value) })}>
          {PAGE_SIZES.map((size) => (
            <option key={size} value={size}>
              {size}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="primary">
        Search
      </button>
    </form>
  );
}
