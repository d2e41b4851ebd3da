import { useCallback, useState } from 'react';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Panel } from '../../components/Panel';
import { useApi, useAsync } from '../../lib/api-context';
import { ContentCreateForm } from './ContentCreateForm';
import { ContentEditForm } from './ContentEditForm';
import { ContentList } from './ContentList';
import { DemoPanel } from './DemoPanel';
import { ReadThroughPanel } from './ReadThroughPanel';
import { useContentList } from './useContentList';
import './content.css';

/** Content at the origin: list, create, edit, delete; reads through every region; the TTL and CDC demos. */
export function ContentPage() {
  const api = useApi();
  const list = useContentList();
  const regions = useAsync(useCallback(() => api.regions().then((items) => items.sort((a, b) => a.delayMs - b.delayMs).map((r) => r.name)), [api]));
  const [selectedId, setSelectedId] = useState<number>();
  // Something is always selected when there is content, so each demo is one click. Set while
  // rendering (React renders again at once), not in an effect after the list was shown unselected.
  if (selectedId === undefined && list.items[0]) setSelectedId(list.items[0].id);
  const selected = list.items.find((item) => item.id === selectedId);

  return (
    <>
      <h1>Content</h1>
      <ErrorMessage error={regions.error} />
      <div className="content-layout">
        <div>
          <Panel title="Articles">
            <ContentList list={list} selectedId={selectedId} onSelect={(record) => setSelectedId(record.id)} />
          </Panel>
          <Panel title="New article">
            <ContentCreateForm
              onCreated={(record) => {
                list.upsert(record);
                setSelectedId(record.id);
              }}
            />
          </Panel>
        </div>
        <div>
          <Panel title="Edit article">
            {selected ? (
              <ContentEditForm
                key={selected.id}
                record={selected}
                onSaved={list.upsert}
                onDeleted={(id) => {
                  list.remove(id);
                  setSelectedId(undefined);
                }}
              />
            ) : (
              <p className="muted">Select an article in the list.</p>
            )}
          </Panel>
          <Panel title="Read through regions">
            {selected ? <ReadThroughPanel key={selected.id} id={selected.id} regions={regions.data ?? []} /> : <p className="muted">Select an article in the list.</p>}
          </Panel>
        </div>
      </div>
      <Panel title="Demos">
        <DemoPanel article={selected} onUpdated={list.upsert} />
      </Panel>
    </>
  );
}
