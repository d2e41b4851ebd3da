import { useEffect, useRef, useState } from 'react';
import { ErrorMessage } from '../../components/ErrorMessage';
import { useApi } from '../../lib/api-context';
import { download } from '../../lib/csv';
import { collectKeys } from './collect-keys';
import type { KeySearch } from './key-search';
import { keysCsv } from './keys-csv';

/** Enough for a spreadsheet; a bigger set is better narrowed by prefix or tag. */
export const EXPORT_CAP = 10_000;

type Progress = { rows: number; state: 'running' | 'done' | 'capped' | 'cancelled' | 'failed' };

function progressText({ rows: count, state }: Progress): string {
  const rows = `${count.toLocaleString('en')} ${count === 1 ? 'row' : 'rows'}`;
  switch (state) {
    case 'running':
      return `Exported ${rows}…`;
    case 'done':
      return `Exported ${rows}.`;
    case 'capped':
      return `Exported the first ${rows}, the most one export holds: narrow the search for the rest.`;
    case 'cancelled':
      return `Export cancelled after ${rows}; nothing was saved.`;
    case 'failed':
      return `Export stopped after ${rows}; nothing was saved.`;
  }
}

/** Downloads every key of the current search (all its pages, not only the one shown) as CSV. */
export function ExportCsv({ search }: { search: KeySearch }) {
  const api = useApi();
  const [progress, setProgress] = useState<Progress>();
  const [error, setError] = useState<Error>();
  const running = useRef<AbortController>(undefined);

  // Leaving the page stops the export between two pages.
  useEffect(() => () => running.current?.abort(), []);

  async function exportCsv() {
    const controller = new AbortController();
    running.current = controller;
    setError(undefined);
    setProgress({ rows: 0, state: 'running' });
    try {
      const result = await collectKeys(api, search, {
        cap: EXPORT_CAP,
        signal: controller.signal,
        onProgress: (rows) => setProgress({ rows, state: 'running' }),
      });
      if (controller.signal.aborted) {
        setProgress({ rows: result.items.length, state: 'cancelled' });
        return;
      }
      download(`freshcache-keys-${result.region || 'default'}.csv`, keysCsv(result.region, result.items));
      setProgress({ rows: result.items.length, state: result.more ? 'capped' : 'done' });
    } catch (failure) {
      setError(failure as Error);
      setProgress((p) => ({ rows: p?.rows ?? 0, state: 'failed' }));
    } finally {
      running.current = undefined;
    }
  }

  const busy = progress?.state === 'running';
  return (
    <div className="keys-export stack">
      <div className="row">
        <button type="button" onClick={() => void exportCsv()} disabled={busy}>
          Export CSV
        </button>
        {busy && (
          <button type="button" onClick={() => running.current?.abort()}>
            Cancel export
          </button>
        )}
      </div>
      {progress && (
        <p className="muted keys-export-progress" role="status">
          {progressText(progress)}
        </p>
      )}
      <ErrorMessage error={error} onDismiss={() => setError(undefined)} />
    </div>
  );
}
