import { useRef, useState } from 'react';
import { flushSync } from 'react-dom';
import { ErrorMessage } from '../../components/ErrorMessage';
import { useApi } from '../../lib/api-context';
import { InvalidationProgress } from './InvalidationProgress';
import { useInvalidationTracker } from './useInvalidationTracker';

/** `POST /api/invalidate` takes at most this many keys. */
const MAX_KEYS_PER_CALL = 1000;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

/**
 * Invalidates the selected keys in every region, after a confirmation, and shows each region
 * applying it. `onApplied(region)` lets the page reload once the region it shows has applied.
 */
export function InvalidateSelected({
  keys,
  regions,
  onPublished,
  onApplied,
}: {
  keys: readonly string[];
  regions: readonly string[];
  onPublished: () => void;
  onApplied: (region: string) => void;
}) {
  const api = useApi();
  const tracker = useInvalidationTracker(onApplied);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const trigger = useRef<HTMLButtonElement>(null);

  /** Back from the confirmation: the focus returns to the button that asked for it, not to the page. */
  function closeConfirmation() {
    flushSync(() => setConfirming(false));
    trigger.current?.focus();
  }

  async function invalidate() {
    closeConfirmation();
    setBusy(true);
    setError(undefined);
    tracker.begin();
    try {
      for (const chunk of chunks(keys, MAX_KEYS_PER_CALL)) tracker.add(await api.invalidate({ keys: chunk }));
      onPublished();
    } catch (failure) {
      // The chunks published before the failure stay listed with their progress.
      setError(failure as Error);
    } finally {
      tracker.end();
      setBusy(false);
    }
  }

  const count = keys.length;
  const noun = count === 1 ? 'key' : 'keys';
  return (
    <div className="keys-invalidate stack">
      {confirming && count > 0 ? (
        <div className="row keys-confirm" role="group" aria-label="Confirm the invalidation">
          <span>
            Invalidate {count} {noun} in every region?
          </span>
          {/* The focus moves here so that Enter or Space confirms and Tab reaches Cancel. */}
          <button type="button" className="danger" autoFocus onClick={() => void invalidate()}>
            Invalidate {count} {noun}
          </button>
          <button type="button" onClick={closeConfirmation}>
            Cancel
          </button>
        </div>
      ) : (
        // aria-disabled, not disabled: it keeps the focus while the invalidation runs and once the
        // selection is cleared after it.
        <button ref={trigger} type="button" className="danger" aria-disabled={count === 0 || busy} onClick={() => count > 0 && !busy && setConfirming(true)}>
          {busy ? 'Invalidating…' : count === 0 ? 'Invalidate selected' : `Invalidate selected (${count})`}
        </button>
      )}
      <ErrorMessage error={error} onDismiss={() => setError(undefined)} />
      <ErrorMessage error={tracker.error} onDismiss={tracker.dismissError} />
      {tracker.statuses.length > 0 && (
        <div role="status">
          {tracker.statuses.map((status) => (
            <InvalidationProgress key={status.id} status={status} regions={regions} />
          ))}
        </div>
      )}
    </div>
  );
}
