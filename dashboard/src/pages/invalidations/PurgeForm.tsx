import { useId, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { DryRunResult, InvalidationStatus, InvalidationTargets } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { useApi } from '../../lib/api-context';
import { splitList } from '../../lib/format';
import { DryRunPreview } from './DryRunPreview';

type Field = 'keys' | 'tags' | 'prefixes';

const FIELDS: { name: Field; label: string; placeholder: string }[] = [
  { name: 'keys', label: 'Keys', placeholder: 'content:1 content:2' },
  { name: 'tags', label: 'Tags', placeholder: 'news' },
  { name: 'prefixes', label: 'Prefixes', placeholder: 'content:*' },
];

/** Only the lists that have items: the body says what the user asked for, nothing more. */
function targetsOf(text: Record<Field, string>): InvalidationTargets | undefined {
  const targets: InvalidationTargets = {};
  for (const { name } of FIELDS) {
    const items = splitList(text[name]);
    if (items.length > 0) targets[name] = items;
  }
  return Object.keys(targets).length > 0 ? targets : undefined;
}

/**
 * Keys, tags and prefixes to invalidate in every region. Preview (a dry run) lists what each
 * region holds now that the purge would drop; Purge publishes it. Enter submits the preview,
 * the harmless one.
 */
export function PurgeForm({ configured, onPurged }: { configured?: readonly string[]; onPurged: (status: InvalidationStatus) => void }) {
  const api = useApi();
  const hintId = useId();
  const [text, setText] = useState<Record<Field, string>>({ keys: '', tags: '', prefixes: '' });
  const [preview, setPreview] = useState<DryRunResult>();
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  // Moves on with each preview asked for and each edit: a preview answer is shown only if nothing
  // moved it since its request, so an answer still on its way for other targets is not.
  const previewRequest = useRef(0);

  function edit(name: Field, value: string) {
    setText((t) => ({ ...t, [name]: value }));
    // A preview of other targets would mislead.
    previewRequest.current++;
    setPreview(undefined);
  }

  async function run(action: 'preview' | 'purge') {
    const targets = targetsOf(text);
    if (!targets) {
      setError(new Error('Enter at least one key, tag or prefix.'));
      return;
    }
    setError(undefined);
    setBusy(true);
    try {
      if (action === 'preview') {
        const mine = ++previewRequest.current;
        const result = await api.previewInvalidation(targets);
        if (mine === previewRequest.current) setPreview(result);
      } else {
        onPurged(await api.invalidate(targets));
        setPreview(undefined);
      }
    } catch (failure) {
      setError(failure as Error);
    } finally {
      setBusy(false);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    void run('preview');
  }

  return (
    <form className="purge-form stack" onSubmit={submit} aria-describedby={hintId}>
      <p id={hintId} className="muted">
        Separate items with commas, spaces or new lines. A prefix may end with one <code>*</code> (<code>user:42:*</code>).
      </p>
      <div className="purge-fields">
        {FIELDS.map((field) => (
          <label key={field.name}>
            {field.label}
            <textarea name={field.name} rows={3} value={text[field.name]} placeholder={field.placeholder} onChange={(e) => edit(field.name, e.target.value)} />
          </label>
        ))}
      </div>
      <div className="row">
        <button type="submit" disabled={busy}>
          Preview
        </button>
        <button type="button" className="danger" disabled={busy} onClick={() => void run('purge')}>
          Purge
        </button>
      </div>
      <ErrorMessage error={error} onDismiss={() => setError(undefined)} />
      {preview && <DryRunPreview result={preview} configured={configured} />}
    </form>
  );
}
