import { useEffect, useRef, useState } from 'react';
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
  // For each load not yet shown, the settings received since it started, in order: its answer
  // may be older than them, so they are applied again on top of it.
  const logs = useRef<RegionSettings[][]>([]);
  const loaded = useAsync(() => {
    const seen: RegionSettings[] = [];
    logs.current.push(seen);
    return api.regions().then((items) => ({ items, seen }));
  }, []);
  const [regions, setRegions] = useState<RegionSettings[]>([]);
  const [saving, setSaving] = useState<ReadonlySet<string>>(new Set());
  const [saveError, setSaveError] = useState<Error>();
  const [flushed, setFlushed] = useState<string>();
  const [followAll, setFollowAll] = useState(false);
  const follower = useInvalidationFollower(followAll);

  // The loaded list is the starting point; responses and events change it from then on.
  useEffect(() => {
    if (!loaded.data) return;
    const { items, seen } = loaded.data;
    // The settings received until now count, up to this render. Older loads are done too:
    // useAsync shows only the latest answer.
    logs.current = logs.current.slice(logs.current.indexOf(seen) + 1);
    setRegions([...items, ...seen].reduce(withRegion, []));
  }, [loaded.data]);

  const receive = (region: RegionSettings) => {
    for (const seen of logs.current) seen.push(region);
    setRegions((current) => withRegion(current, region));
  };
  useEvent('region.updated', ({ name, settings }) => receive({ name, ...settings }));
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
