import { useCallback, useState } from 'react';
import type { FormEvent } from 'react';
import type { InvalidationTargets } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { useApi, useAsync } from '../../lib/api-context';
import { stampTitle } from '../../lib/stamp-title';
import type { InvalidationFollower } from './useInvalidationFollower';

type TargetKind = keyof InvalidationTargets;

const KINDS: { kind: TargetKind; label: string; example: string }[] = [
  { kind: 'tags', label: 'Tag', example: 'news' },
  { kind: 'keys', label: 'Key', example: 'content:1' },
  { kind: 'prefixes', label: 'Prefix', example: 'content:' },
];

/** The two ways to send an invalidation from this page: change an article at the origin, or purge. */
export function RegionActions({ follower }: { follower: InvalidationFollower }) {
  const api = useApi();
  const articles = useAsync(useCallback(() => api.listContent({ limit: 50 }).then((page) => page.items), [api]));
  const [articleId, setArticleId] = useState<number>();
  const article = articles.data?.find((a) => a.id === articleId) ?? articles.data?.[0];
  const [kind, setKind] = useState<TargetKind>('tags');
  const [target, setTarget] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const kindInfo = KINDS.find((k) => k.kind === kind)!;

  async function act(label: string, action: () => Promise<void>) {
    follower.begin(label);
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (failure) {
      follower.forget();
      setError(failure as Error);
    } finally {
      setBusy(false);
    }
  }

  const edit = (event: FormEvent) => {
    event.preventDefault();
    if (!article) return;
    void act(`Edit of ${article.slug}`, async () => {
      const record = await api.updateContent(article.id, { title: stampTitle(article.title, 'edited', new Date()) });
      // Its invalidation is the CDC event for this article's key at (or past) the new version.
      const key = `content:${article.id}`;
      follower.follow((s) => s.source === 'cdc' && s.keys.includes(key) && (s.version === undefined || s.version >= record.version));
    });
  };

  const purge = (event: FormEvent) => {
    event.preventDefault();
    const value = target.trim();
    void act(`Purge of ${kindInfo.label.toLowerCase()} ${value}`, async () => {
      const status = await api.invalidate({ [kind]: [value] });
      follower.follow((s) => s.id === status.id, status);
    });
  };

  return (
    <div className="stack">
      <ErrorMessage error={articles.error} />
      <ErrorMessage error={error} onDismiss={() => setError(undefined)} />
      <div className="region-actions">
        <form className="row" onSubmit={edit} aria-label="Edit an article">
          <label>
            Article
            <select value={article?.id ?? ''} onChange={(e) => setArticleId(Number(e.target.value))} disabled={!articles.data?.length}>
              {articles.data?.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.id} · {a.slug}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="primary" disabled={busy || !article}>
            Edit article
          </button>
        </form>
        <form className="row" onSubmit={purge} aria-label="Purge">
          <label>
            Purge by
            <select value={kind} onChange={(e) => setKind(e.target.value as TargetKind)}>
              {KINDS.map((k) => (
                <option key={k.kind} value={k.kind}>
                  {k.label.toLowerCase()}
                </option>
              ))}
            </select>
          </label>
          <label>
            {kindInfo.label}
            <input value={target} onChange={(e) => setTarget(e.target.value)} placeholder={kindInfo.example} required />
          </label>
          <button type="submit" className="danger" disabled={busy || target.trim() === ''}>
            Purge
          </button>
        </form>
      </div>
      {articles.data?.length === 0 && <p className="muted">No articles at the origin: create one on the Content page.</p>}
    </div>
  );
}
