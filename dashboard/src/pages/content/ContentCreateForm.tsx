import { useState } from 'react';
import type { FormEvent } from 'react';
import type { ContentRecord } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { useApi } from '../../lib/api-context';
import { splitList } from '../../lib/format';

/** The API's slug rule, checked here too so a typo is explained before a round trip. */
export const SLUG_PATTERN = '^[a-z0-9][a-z0-9-]{0,99}$';

/** Creates an article at the origin (POST /api/content). */
export function ContentCreateForm({ onCreated }: { onCreated: (record: ContentRecord) => void }) {
  const api = useApi();
  const [slug, setSlug] = useState('');
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [tags, setTags] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!new RegExp(SLUG_PATTERN).test(slug)) {
      setError(new Error('A slug is lower-case letters, digits and dashes (not starting with a dash), at most 100 characters.'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const record = await api.createContent({ slug, title, body, tags: splitList(tags) });
      setSlug('');
      setTitle('');
      setBody('');
      setTags('');
      onCreated(record);
    } catch (failure) {
      setError(failure as Error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="stack" onSubmit={submit} aria-label="Create content">
      <ErrorMessage error={error} onDismiss={() => setError(undefined)} />
      <div className="content-form-fields">
        <label>
          Slug
          <input value={slug} onChange={(e) => setSlug(e.target.value)} required pattern={SLUG_PATTERN} maxLength={100} placeholder="my-article" />
        </label>
        <label>
          Title
          <input value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={200} />
        </label>
        <label className="wide">
          Body
          <textarea value={body} onChange={(e) => setBody(e.target.value)} rows={3} />
        </label>
        <label className="wide">
          <span>
            Tags <span className="muted">(comma or space separated)</span>
          </span>
          <input value={tags} onChange={(e) => setTags(e.target.value)} placeholder="news, front-page" />
        </label>
      </div>
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create'}
      </button>
    </form>
  );
}
