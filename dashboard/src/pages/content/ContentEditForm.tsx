import { useRef, useState } from 'react';
import { flushSync } from 'react-dom';
import type { FormEvent } from 'react';
import type { ContentRecord } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { useApi } from '../../lib/api-context';
import { splitList } from '../../lib/format';

/**
 * Edits one article at the origin (PUT), or deletes it after a second click. Mount it with
 * `key={record.id}`: the fields start from the record and are the user's from then on.
 */
export function ContentEditForm({ record, onSaved, onDeleted }: { record: ContentRecord; onSaved: (record: ContentRecord) => void; onDeleted: (id: number) => void }) {
  const api = useApi();
  // The version the fields were filled from: a newer one at the origin is pointed out, never
  // copied over what the user is typing.
  const [base, setBase] = useState(record);
  const [title, setTitle] = useState(record.title);
  const [body, setBody] = useState(record.body);
  const [tags, setTags] = useState(record.tags.join(', '));
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<Error>();
  const deleteButton = useRef<HTMLButtonElement>(null);

  function fillFrom(next: ContentRecord) {
    setBase(next);
    setTitle(next.title);
    setBody(next.body);
    setTags(next.tags.join(', '));
  }

  async function act(action: () => Promise<void>) {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (failure) {
      setError(failure as Error);
    } finally {
      setBusy(false);
    }
  }

  const save = (event: FormEvent) => {
    event.preventDefault();
    void act(async () => {
      const saved = await api.updateContent(record.id, { title, body, tags: splitList(tags) });
      fillFrom(saved);
      onSaved(saved);
    });
  };

  // The Cancel button goes away: the focus returns to Delete…, not to the page.
  function cancelDelete() {
    flushSync(() => setConfirming(false));
    deleteButton.current?.focus();
  }

  const remove = () =>
    act(async () => {
      await api.deleteContent(record.id);
      onDeleted(record.id);
    });

  return (
    <form className="stack" onSubmit={save} aria-label={`Edit ${record.slug}`}>
      <p className="muted">
        <code>{record.slug}</code> · id {record.id} · version {base.version} · updated {new Date(base.updatedAt).toLocaleString()}
      </p>
      {record.version > base.version && (
        <p className="content-newer" role="status">
          The origin has a newer version ({record.version}).{' '}
          <button type="button" className="link" onClick={() => fillFrom(record)}>
            Load it
          </button>
        </p>
      )}
      <ErrorMessage error={error} onDismiss={() => setError(undefined)} />
      <div className="content-form-fields">
        <label className="wide">
          Title
          <input value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={200} />
        </label>
        <label className="wide">
          Body
          <textarea value={body} onChange={(e) => setBody(e.target.value)} rows={4} />
        </label>
        <label className="wide">
          <span>
            Tags <span className="muted">(comma or space separated)</span>
          </span>
          <input value={tags} onChange={(e) => setTags(e.target.value)} />
        </label>
      </div>
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          Save
        </button>
        {confirming ? (
          <span className="row" role="group" aria-label="Confirm delete">
            <span>Delete {record.slug}?</span>
            <button type="button" className="danger" onClick={remove} disabled={busy}>
              Yes, delete
            </button>
            {/* Focus lands on the safe choice: the Delete… button it replaces is gone. */}
            <button type="button" onClick={cancelDelete} autoFocus>
              Cancel
            </button>
          </span>
        ) : (
          <button ref={deleteButton} type="button" onClick={() => setConfirming(true)} disabled={busy}>
            Delete…
          </button>
        )}
      </div>
    </form>
  );
}
