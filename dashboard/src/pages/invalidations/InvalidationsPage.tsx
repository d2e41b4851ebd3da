import { useState } from 'react';
import type { InvalidationStatus } from '../../api/types';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Panel } from '../../components/Panel';
import { useInfo } from '../../lib/info-context';
import { orderRegions } from '../../lib/regions';
import { InvalidationTable } from './InvalidationTable';
import { PurgeForm } from './PurgeForm';
import { PurgeProgress } from './PurgeProgress';
import { useInvalidationHistory } from './useInvalidationHistory';
import './invalidations.css';

/** Purge keys, tags and prefixes after a dry run, and watch every invalidation reach each region. */
export function InvalidationsPage() {
  const info = useInfo();
  const history = useInvalidationHistory(50);
  const [purged, setPurged] = useState<InvalidationStatus>();

  function onPurged(status: InvalidationStatus) {
    // The history is where events keep statuses live: the progress below reads it from there.
    history.record(status);
    setPurged(status);
  }

  const progress = purged && (history.items.find((status) => status.id === purged.id) ?? purged);
  const regions = orderRegions(
    history.items.flatMap((status) => Object.keys(status.regions)),
    info?.regions,
  );

  return (
    <>
      <h1>Invalidations</h1>
      <Panel title="Purge">
        <PurgeForm configured={info?.regions} onPurged={onPurged} />
        {progress && <PurgeProgress status={progress} regions={orderRegions(Object.keys(progress.regions), info?.regions)} />}
      </Panel>
      <Panel title="History">
        <ErrorMessage error={history.error} />
        {history.loading ? (
          <p className="muted">Loading…</p>
        ) : history.items.length === 0 ? (
          !history.error && <p className="muted">No invalidations yet: a purge above, or a change at the origin, shows here as it reaches each region.</p>
        ) : (
          <InvalidationTable items={history.items} regions={regions} />
        )}
      </Panel>
    </>
  );
}
