import type { EventMap, EventName } from './types';

export type StreamState = 'connecting' | 'live' | 'reconnecting';

const EVENT_NAMES: EventName[] = [
  'invalidation.published',
  'invalidation.applied',
  'content.changed',
  'region.updated',
  'region.flushed',
  'rebalance.progress',
  'redis.failover',
];

const RETRY_MS = 2000;

type Listener<K extends EventName> = (payload: EventMap[K]) => void;

/**
 * One connection to `/api/events` shared by every page. EventSource reconnects by itself (the
 * server asks for 2 s); events sent while it was away are lost, so after a reconnect the
 * `onResync` listeners run and pages reload what they show.
 */
export class EventStream {
  private source: EventSource | undefined;
  private readonly listeners = new Map<EventName, Set<Listener<EventName>>>();
  private readonly stateListeners = new Set<(state: StreamState) => void>();
  private readonly resyncListeners = new Set<() => void>();
  private current: StreamState = 'connecting';
  private wasLive = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly url = '/api/events') {}

  get state(): StreamState {
    return this.current;
  }

  start(): void {
    if (this.source) return;
    const source = new EventSource(this.url);
    this.source = source;
    source.onopen = () => {
      this.setState('live');
      if (this.wasLive) for (const listener of this.resyncListeners) listener();
      this.wasLive = true;
    };
    source.onerror = () => {
      this.setState('reconnecting');
      // EventSource retries by itself, unless the answer was not an event stream (a proxy's
      // error page, a server restarting): then it gives up, and this tries again.
      if (source.readyState === EventSource.CLOSED && this.source === source) {
        this.source = undefined;
        this.retryTimer = setTimeout(() => this.start(), RETRY_MS);
      }
    };
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (event) => {
        const payload = JSON.parse((event as MessageEvent<string>).data) as EventMap[typeof name];
        for (const listener of this.listeners.get(name) ?? []) listener(payload);
      });
    }
  }

  stop(): void {
    clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = undefined;
  }

  on<K extends EventName>(name: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as Listener<EventName>);
    return () => set.delete(listener as Listener<EventName>);
  }

  onState(listener: (state: StreamState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  private setState(state: StreamState): void {
    if (state === this.current) return;
    this.current = state;
    for (const listener of this.stateListeners) listener(state);
  }
}
