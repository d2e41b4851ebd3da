import { useState } from 'react';
import type { ContentRecord, EdgeRead } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { useApi } from '../../lib/api-context';
import { formatClock, formatMs } from '../../lib/format';

interface Snapshot {
  at: number;
  origin: PromiseSettledResult<ContentRecord>;
  reads: { region: string; result: PromiseSettledResult<EdgeRead> }[];
}

/**
 * Reads one article through every region at once, next to the origin's own copy, so a region
 * that serves an older version stands out. Mount with `key={id}`: a new article starts blank.
 */
export function ReadThroughPanel({ id, regions }: { id: number; regions: string[] }) {
  const api = useApi();
  const [snapshot, setSnapshot] = useState<Snapshot>();
  const [busy, setBusy] = useState(false);

  async function readAll() {
    setBusy(true);
    const [[origin], reads] = await Promise.all([Promise.allSettled([api.getContent(id)]), Promise.allSettled(regions.map((region) => api.readThrough(region, id)))]);
    setSnapshot({ at: Date.now(), origin: origin!, reads: regions.map((region, i) => ({ region, result: reads[i]! })) });
    setBusy(false);
  }

  const origin = snapshot?.origin.status === 'fulfilled' ? snapshot.origin.value : undefined;
  return (
    <div className="stack">
      <div className="row">
        <button type="button" className="primary" onClick={readAll} disabled={busy || regions.length === 0}>
          {busy ? 'Reading…' : 'Read through every region'}
        </button>
        {snapshot && <span className="muted">read at {formatClock(snapshot.at)}</span>}
      </div>
      {snapshot?.origin.status === 'rejected' && <ErrorMessage error={snapshot.origin.reason as Error} />}
      {snapshot && (
        <div className="table-wrap">
          <table className="reads-table" aria-label="Reads through every region">
            <thead>
              <tr>
                <th>Region</th>
                <th>X-Cache</th>
                <th className="num">Age (s)</th>
                <th>Version</th>
                <th>Title served</th>
                <th className="num">Round trip</th>
              </tr>
            </thead>
            <tbody>
              {origin && (
                <tr className="origin-row">
                  <th scope="row">origin</th>
                  <td className="muted">—</td>
                  <td className="num muted">—</td>
                  <td>v{origin.version}</td>
                  <td>{origin.title}</td>
                  <td className="num muted">—</td>
                </tr>
              )}
              {snapshot.reads.map(({ region, result }) => (
                <ReadRow key={region} region={region} result={result} originVersion={origin?.version} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function ReadRow({ region, result, originVersion }: { region: string; result: PromiseSettledResult<EdgeRead>; originVersion: number | undefined }) {
  if (result.status === 'rejected') {
    return (
      <tr>
        <th scope="row">{region}</th>
        <td colSpan={5}>
          <ErrorMessage error={result.reason as Error} />
        </td>
      </tr>
    );
  }
  const read = result.value;
  const stale = read.version !== null && originVersion !== undefined && read.version < originVersion;
  return (
    <tr className={stale ? 'stale-row' : undefined}>
      <th scope="row">{region}</th>
      <td>
        <span className={`badge ${read.cache}`}>{read.cache}</span>
      </td>
      <td className="num">{read.ageSeconds}</td>
      <td>
        v{read.version ?? '—'}{' '}
        {stale && (
          <span className="badge stale" title={`The origin is at version ${originVersion}`}>
            stale
          </span>
        )}
      </td>
      <td>{read.record.title}</td>
      <td className="num">{formatMs(read.ms)}</td>
    </tr>
  );
}
