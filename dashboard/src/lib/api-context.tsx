import { createContext, useCallback, useContext, useEffect, useEffectEvent, useRef, useState, useSyncExternalStore } from 'react';
import type { ReactNode } from 'react';
import { ApiClient } from '../api/client';
import { EventStream } from '../api/event-stream';
import type { StreamState } from '../api/event-stream';
import type { EventMap, EventName } from '../api/types';

export interface Services {
  api: ApiClient;
  events: EventStream;
}

const ServicesContext = createContext<Services | undefined>(undefined);

/** Gives the pages their API client and the shared event stream (tests pass their own). */
export function ServicesProvider({ services, children }: { services: Services; children: ReactNode }) {
  useEffect(() => {
    services.events.start();
    return () => services.events.stop();
  }, [services]);
  return <ServicesContext.Provider value={services}>{children}</ServicesContext.Provider>;
}

export function defaultServices(): Services {
  return { api: new ApiClient(), events: new EventStream() };
}

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error('useServices outside ServicesProvider');
  return services;
}

export function useApi(): ApiClient {
  return useServices().api;
}

/** Calls `listener` on every event `name`; the latest listener is used without resubscribing. */
export function useEvent<K extends EventName>(name: K, listener: (payload: EventMap[K]) => void): void {
  const { events } = useServices();
  const onEvent = useEffectEvent(listener);
  useEffect(() => events.on(name, (payload) => onEvent(payload)), [events, name]);
}

/** Runs `listener` after the event stream reconnected: events were missed, reload. */
export function useResync(listener: () => void): void {
  const { events } = useServices();
  const onResync = useEffectEvent(listener);
  useEffect(() => events.onResync(() => onResync()), [events]);
}

export function useStreamState(): StreamState {
  const { events } = useServices();
  const subscribe = useCallback((changed: () => void) => events.onState(changed), [events]);
  return useSyncExternalStore(subscribe, () => events.state);
}

export interface AsyncState<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /**
   * Loads again; the data shown stays until the new answer replaces it. The promise settles
   * (never rejects) when this request's answer arrived, kept or dropped: a poller waits for it.
   */
  reload: () => Promise<void>;
}

/** What useAsync shows, and the `load` it is for. */
interface Shown<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  load: () => Promise<T>;
}

/**
 * Loads with `load` when mounted and when `load` changes (wrap it in useCallback: a new function
 * is a new request), and reloads after the event stream reconnects. An answer that arrives after
 * a newer request started is dropped.
 */
export function useAsync<T>(load: () => Promise<T>): AsyncState<T> {
  const [shown, setShown] = useState<Shown<T>>(() => ({ data: undefined, error: undefined, loading: true, load }));
  // A new `load` is asked by the effect below: it is loading from this render on.
  if (shown.load !== load) setShown({ ...shown, loading: true, load });
  const generation = useRef(0);

  const request = useCallback(() => {
    const mine = ++generation.current;
    // Kept only if no newer request started, and not one for an older `load` that was replaced.
    const settle = (next: (s: Shown<T>) => Shown<T>) => {
      if (mine === generation.current) setShown((s) => (s.load === load ? next(s) : s));
    };
    return load().then(
      (data) => settle((s) => ({ ...s, data, error: undefined, loading: false })),
      (error: unknown) => settle((s) => ({ ...s, error: error as Error, loading: false })),
    );
  }, [load]);
  const reload = useCallback(() => {
    setShown((s) => ({ ...s, loading: true }));
    return request();
  }, [request]);

  useEffect(() => void request(), [request]);
  useResync(reload);
  return { data: shown.data, error: shown.error, loading: shown.loading, reload };
}
