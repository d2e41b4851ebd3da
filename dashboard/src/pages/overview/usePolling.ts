import { useEffect, useRef } from 'react';

/** Calls `tick` every `intervalMs` while mounted; a new interval restarts the timer. */
export function usePolling(tick: () => void, intervalMs: number): void {
  // The latest `tick` is called, so a caller may pass a new function on every render.
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    const timer = setInterval(() => latest.current(), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
}
