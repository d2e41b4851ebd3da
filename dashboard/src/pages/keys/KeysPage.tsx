import { useRef, useState } from 'react';
import type { CacheItem } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Panel } from '../../components/Panel';
import { useInfo } from '../../lib/info-context';
import { EntryDetail } from './EntryDetail';
import { ExportCsv } from './ExportCsv';
import { InvalidateSelected } from './InvalidateSelected';
import { KeySearchForm } from './KeySearchForm';
import type { KeySearch } from './key-search';
import { KeyPager } from './KeyPager';
import { KeyTable } from './KeyTable';
import { useKeyPages } from './useKeyPages';
import './keys.css';

/** The key explorer of one region: search, page, open an entry, invalidate a selection, export CSV. */
export function KeysPage() {
  const regions = useInfo()?.regions ?? [];
  const pages = useKeyPages();
  const { page } = pages;
  // Kept across pages of one search, so that keys of several pages can be invalidated together.
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  // The entry as listed when it was opened: it stays readable after a reload drops it from the table.
  const [open, setOpen] = useState<{ item: CacheItem; region: string }>();
  // The key button that opened the entry: Close gives it the focus back (the Close button goes away).
  const opener = useRef<HTMLButtonElement>(undefined);

  function openEntry(item: CacheItem, region: string, button: HTMLButtonElement) {
    opener.current = button;
    setOpen({ item, region });
  }

  function closeEntry() {
    // Unless a reload or another page took the key out of the table.
    if (opener.current?.isConnected) opener.current.focus();
    setOpen(undefined);
  }

  function search(next: KeySearch) {
    setSelected(new Set());
    pages.run(next);
  }

  function select(keys: string[], on: boolean) {
    setSelected((current) => {
      const next = new Set(current);
      for (const key of keys) {
        if (on) next.add(key);
        else next.delete(key);
      }
      return next;
    });
  }

  return (
    <>
      <h1>Keys</h1>
      <Panel title="Search">
        <KeySearchForm regions={regions} initial={pages.search} onSearch={search} />
      </Panel>
      <div className={`keys-layout ${open ? 'with-detail' : ''}`}>
        <Panel title={page ? `Keys in ${page.region}` : 'Keys'} actions={<span className="muted">{selected.size} selected</span>}>
          <div className="keys-toolbar">
            <InvalidateSelected
              keys={[...selected]}
              regions={regions}
              onPublished={() => setSelected(new Set())}
              // The entries are gone (or stale, in a lazy region) once the region shown applied the purge.
              onApplied={(region) => region === page?.region && pages.reload()}
            />
            <ExportCsv search={pages.search} />
          </div>
          <ErrorMessage error={pages.error} />
          {page && <KeyTable items={page.items} selected={selected} onSelect={select} onOpen={(item, button) => openEntry(item, page.region, button)} />}
          <KeyPager pages={pages} />
        </Panel>
        {open && <EntryDetail key={`${open.region} ${open.item.key}`} item={open.item} region={open.region} onClose={closeEntry} />}
      </div>
    </>
  );
}
