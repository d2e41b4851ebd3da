import { useCallback, useMemo, useRef, useState } from 'react';
import type { RegionPatch, RegionSettings } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Panel } from '../../components/Panel';
import { useApi, useAsync, useEvent } from '../../lib/api-context';
import { formatClock } from '../../lib/format';
import { FollowedSummary } from './FollowedSummary';
import { RegionActions } from './RegionActions';
import { RegionList } from './RegionList';
import { RegionMap } from './RegionMap';
import { landings } from './propagation';
import { useInvalidationFollower } from './useInvalidationFollower';
import './regions.css';

/** Replaces (or adds) one region's settings; regions are shown in delay order, the order an invalidation reaches them. */
function withRegion(regions: RegionSettings[], region: RegionSettings): RegionSettings[] {
  return [...regions.filter((r) => r.name !== region.name), region].sort((a, b) => a.delayMs - b.delayMs);
}

/** The regions on a map: watch an edit or a purge reach each in turn, and switch their strategy and mode. */
export function RegionsPage() {
  const api = useApi();
  // The latest settings received for each region (a save's answer or an event), numbered in the
  // order they came. Numbering happens in the listener and in the load, never while rendering.
  const [received, setReceived] = useState<ReadonlyMap<string, { seq: number; settings: RegionSettings }>>(new Map());
  const nextSeq = useRef(0);
  const loaded = useAsync(
    useCallback(() => {
      const from = nextSeq.current;
      return api.regions().then((items) => ({ items, from }));
    }, [api]),
  );
  const [saving, setSaving] = useState<ReadonlySet<string>>(new Set());
  const [saveError, setSaveError] = useState<Error>();
  const [flushed, setFlushed] = useState<string>();
  const [followAll, setFollowAll] = useState(false);
  const follower = useInvalidationFollower(followAll);

  // The loaded list with the settings received since its load started laid over it, in the order
  // they came: its answer may be older than them. (Before the first answer, what was received alone.)
  const regions = useMemo(() => {
    const from = loaded.data?.from ?? 0;
    const since = [...received.values()].filter((r) => r.seq >= from).sort((a, b) => a.seq - b.seq);
    return [...(loaded.data?.items ?? []), ...since.map((r) => r.settings)].reduce(withRegion, []);
  }, [loaded.data, received]);

  const receive = (region: RegionSettings) => {
    const seq = nextSeq.current++;
    setReceived((current) => new Map(current).set(region.name, { seq, settings: region }));
  };
  // Only a region this process serves changes here, and tells its settings without `served`.
  useEvent('region.updated', ({ name, settings }) => receive({ name, ...settings, served: true }));
  useEvent('region.flushed', ({ name, reason }) => setFlushed(`${formatClock(Date.now())}: ${name} flushed its cache (${reason}).`));

  async function change(name: string, patch: RegionPatch) {
    setSaving((current) => new Set(current).add(name));
    setSaveError(undefined);
    try {
      receive(await api.updateRegion(name, patch));
    } catch (failure) {
      setSaveError(failure as Error);
    } finally {
      setSaving((current) => {
        const next = new Set(current);
        next.delete(name);
        return next;
      });
    }
  }

  const states = landings(follower.followed?.status, regions.map((r) => r.name));
  return (
    <>
      <h1>Regions</h1>
      <ErrorMessage error={loaded.error} />
      <Panel title="Propagation">
        <div className="stack">
          <RegionActions follower={follower} />
          <label className="inline">
            <input type="checkbox" checked={followAll} onChange={(e) => setFollowAll(e.target.checked)} />
            Follow every invalidation, also those made elsewhere (SQL, other users, the workload)
          </label>
          <ErrorMessage error={follower.error} />
          <FollowedSummary followed={follower.followed} regions={regions} states={states} />
          <RegionMap regions={regions} landings={states} followedId={follower.followed?.status?.id} />
        </div>
      </Panel>
      <Panel title="Regions">
        <div className="stack">
          <ErrorMessage error={saveError} onDismiss={() => setSaveError(undefined)} />
          {flushed && (
            <p className="muted" role="status">
              {flushed}
            </p>
          )}
          <RegionList regions={regions} landings={states} saving={saving} onChange={change} />
          <p className="muted">
            <strong>eager</strong> drops an invalidated entry; <strong>lazy</strong> serves it as STALE while it reloads. In <strong>ttl</strong> mode a region ignores CDC
            invalidations and serves what it holds until the entry's TTL runs out; switching back to <strong>cdc</strong> flushes it.
          </p>
        </div>
      </Panel>
    </>
  );
}
