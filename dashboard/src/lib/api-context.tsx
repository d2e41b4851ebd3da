import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
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
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => events.on(name, (payload) => latest.current(payload)), [events, name]);
}

/** Runs `listener` after the event stream reconnected: events were missed, reload. */
export function useResync(listener: () => void): void {
  const { events } = useServices();
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => events.onResync(() => latest.current()), [events]);
}

export function useStreamState(): StreamState {
  const { events } = useServices();
  const [state, setState] = useState(events.state);
  useEffect(() => {
    setState(events.state);
    return events.onState(setState);
  }, [events]);
  return state;
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

/**
 * Loads with `load` when mounted and when `deps` change, and reloads after the event stream
 * reconnects. An answer that arrives after a newer request started is dropped.
 */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const generation = useRef(0);
  const latestLoad = useRef(load);
  latestLoad.current = load;
  const reload = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    return latestLoad.current().then(
      (data) => {
        if (mine === generation.current) setState({ data, error: undefined, loading: false });
      },
      (error: unknown) => {
        if (mine === generation.current) setState((s) => ({ data: s.data, error: error as Error, loading: false }));
      },
    );
  }, []);
  useEffect(() => void reload(), deps);
  useResync(reload);
  return { ...state, reload };
}
