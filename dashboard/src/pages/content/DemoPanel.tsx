import { useEffect, useRef, useState } from 'react';
import type { ContentRecord } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { useApi } from '../../lib/api-context';
import { formatMs } from '../../lib/format';
import { refreshInSeconds, runDemo } from './runDemo';
import type { DemoKind, DemoProgress, DemoResult } from './runDemo';

const DEMOS: { kind: DemoKind; label: string; explains: string }[] = [
  { kind: 'ttl', label: 'TTL stale read', explains: 'Regions in ttl mode, then an update: they keep serving the old version until the TTL runs out.' },
  { kind: 'cdc', label: 'CDC invalidation', explains: 'Regions in cdc mode, then an update: each serves the new version once its invalidation lands.' },
];

/** The two classic demos, one click each, on the selected article: live steps, per-region reads, a result sentence. */
export function DemoPanel({ article, onUpdated }: { article: ContentRecord | undefined; onUpdated: (record: ContentRecord) => void }) {
  const api = useApi();
  const [running, setRunning] = useState<DemoKind>();
  const [shown, setShown] = useState<DemoKind>();
  const [progress, setProgress] = useState<DemoProgress>();
  const [result, setResult] = useState<DemoResult>();
  const [error, setError] = useState<Error>();
  const stop = useRef<AbortController>(undefined);
  // Leaving the page stops the re-reads (and the state updates) of a demo still running.
  useEffect(() => () => stop.current?.abort(), []);

  async function start(kind: DemoKind, id: number) {
    stop.current = new AbortController();
    setRunning(kind);
    setShown(kind);
    setProgress(undefined);
    setResult(undefined);
    setError(undefined);
    try {
      const outcome = await runDemo(api, kind, id, setProgress, { signal: stop.current.signal });
      setResult(outcome);
      onUpdated(outcome.record);
    } catch (failure) {
      if (!stop.current.signal.aborted) setError(failure as Error);
    } finally {
      setRunning(undefined);
    }
  }

  return (
    <div className="stack">
      <p className="muted">{article ? `On ${article.slug}. ` : 'Select an article to run a demo on. '}Each demo changes every region's mode and updates the article.</p>
      <div className="demo-buttons">
        {DEMOS.map((demo) => (
          <div key={demo.kind} className="demo-choice">
            <button type="button" className="primary" disabled={!article || running !== undefined} onClick={() => article && start(demo.kind, article.id)}>
              {running === demo.kind ? 'Running…' : demo.label}
            </button>
            <span className="muted">{demo.explains}</span>
          </div>
        ))}
      </div>
      <ErrorMessage error={error} onDismiss={() => setError(undefined)} />
      {shown && progress && <DemoRegionsTable kind={shown} progress={progress} />}
      {progress && (
        <ol className="demo-log" role="log" aria-label="Demo steps">
          {progress.steps.map((step, i) => (
            <li key={i}>
              <span className="demo-at">{formatMs(step.atMs)}</span> {step.text}
            </li>
          ))}
        </ol>
      )}
      {result && (
        <p className="demo-result" role="status">
          <strong>Result:</strong> {result.summary}
        </p>
      )}
    </div>
  );
}

function DemoRegionsTable({ kind, progress }: { kind: DemoKind; progress: DemoProgress }) {
  return (
    <div className="table-wrap">
      <table className="reads-table" aria-label="Demo reads by region">
        <thead>
          <tr>
            <th>Region</th>
            <th className="num">Delay</th>
            <th>Last read</th>
            <th className="num">Age (s)</th>
            <th>{kind === 'cdc' ? 'New version first served' : 'TTL / refreshes in'}</th>
          </tr>
        </thead>
        <tbody>
          {progress.regions.map((region) => (
            <tr key={region.name}>
              <th scope="row">{region.name}</th>
              <td className="num">{formatMs(region.delayMs)}</td>
              <td>
                {region.readError ? (
                  <span className="badge invalid">{region.readError}</span>
                ) : region.lastRead ? (
                  <>
                    <span className={`badge ${region.lastRead.cache}`}>{region.lastRead.cache}</span> v{region.lastRead.version ?? '—'}
                  </>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
              <td className="num">{region.lastRead?.ageSeconds ?? '—'}</td>
              <td>
                {kind === 'cdc'
                  ? region.firstNewMs === null
                    ? 'not yet'
                    : `+${region.firstNewMs} ms`
                  : region.firstNewMs === null
                    ? `${formatMs(region.ttlMs)} / ≈ ${refreshInSeconds(region)} s`
                    : `refreshed at +${region.firstNewMs} ms`}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
