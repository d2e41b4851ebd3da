import { useEffect, useEffectEvent, useRef } from 'react';

/**
 * Calls `tick` every `intervalMs` while mounted; a new interval restarts the timer. When `tick`
 * returns a promise, the ticks are skipped until it settles: an answer slower than the interval
 * would otherwise be dropped for the next request's, again and again, and requests pile up.
 */
export function usePolling(tick: () => void | Promise<unknown>, intervalMs: number): void {
  // The latest `tick` is called, so a caller may pass a new function on every render.
  const onTick = useEffectEvent(tick);
  const inFlight = useRef(false);
  useEffect(() => {
    const timer = setInterval(() => {
      if (inFlight.current) return;
      const pending = onTick();
      if (!pending) return;
      inFlight.current = true;
      // Showing a failure is the tick's business; here it only ends the wait.
      const settled = () => {
        inFlight.current = false;
      };
      pending.then(settled, settled);
    }, intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
}
