import { ApiClient } from '../src/api/client';
import { EventStream } from '../src/api/event-stream';
import type { StreamState } from '../src/api/event-stream';
import type { EventMap, EventName, ServerInfo } from '../src/api/types';
import type { Services } from '../src/lib/api-context';

/** `GET /api/info` of the demo: three regions, every role, embedded adapters, no optional feature. */
export const SERVER_INFO: ServerInfo = {
  name: 'freshcache',
  version: '0.1.0',
  nodeId: 'node-1',
  regions: ['us-east', 'eu-west', 'ap-south'],
  roles: { regions: ['us-east', 'eu-west', 'ap-south'], relay: true },
  adapters: { origin: 'pglite', capture: 'outbox', log: 'memory', l2: 'memory' },
  apps: ['content'],
  features: { cluster: false, warming: false, audit: false, backup: false },
  chaos: false,
};

export interface Call {
  method: string;
  path: string;
  body: unknown;
}

type Responder = (call: Call) => { status?: number; body?: unknown; headers?: Record<string, string> } | undefined;

/**
 * Services for component tests: the real ApiClient over a `fetch` that answers from `respond`
 * (and records every call), and an event stream the test drives with `emit`. No server, no
 * EventSource: jsdom has neither.
 */
export function fakeServices(respond: Responder): Services & {
  calls: Call[];
  emit<K extends EventName>(name: K, payload: EventMap[K]): void;
  resync(): void;
  streamState(state: StreamState): void;
} {
  const calls: Call[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    const url = new URL(String(input), 'http://dashboard.test');
    const call = { method: init?.method ?? 'GET', path: url.pathname + url.search, body: init?.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(call);
    const answer = respond(call);
    if (!answer) {
      return new Response(JSON.stringify({ error: { code: 'not_found', message: `no fake answer for ${call.method} ${call.path}` } }), { status: 404 });
    }
    const status = answer.status ?? 200;
    return new Response(status === 204 ? null : JSON.stringify(answer.body ?? null), { status, headers: { 'content-type': 'application/json', ...answer.headers } });
  };
  const events = new FakeEventStream();
  return {
    api: new ApiClient('', fetchImpl),
    events,
    calls,
    emit: (name, payload) => events.emit(name, payload),
    resync: () => events.resync(),
    streamState: (state) => events.setStreamState(state),
  };
}

class FakeEventStream extends EventStream {
  private readonly fakeListeners = new Map<string, Set<(payload: never) => void>>();
  private readonly fakeResync = new Set<() => void>();
  private readonly fakeStateListeners = new Set<(state: StreamState) => void>();
  private fakeState: StreamState = 'connecting';

  override start(): void {}
  override stop(): void {}

  override on<K extends EventName>(name: K, listener: (payload: EventMap[K]) => void): () => void {
    let set = this.fakeListeners.get(name);
    if (!set) this.fakeListeners.set(name, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  override get state(): StreamState {
    return this.fakeState;
  }

  override onState(listener: (state: StreamState) => void): () => void {
    this.fakeStateListeners.add(listener);
    return () => this.fakeStateListeners.delete(listener);
  }

  override onResync(listener: () => void): () => void {
    this.fakeResync.add(listener);
    return () => this.fakeResync.delete(listener);
  }

  emit<K extends EventName>(name: K, payload: EventMap[K]): void {
    for (const listener of this.fakeListeners.get(name) ?? []) (listener as (p: EventMap[K]) => void)(payload);
  }

  setStreamState(state: StreamState): void {
    this.fakeState = state;
    for (const listener of this.fakeStateListeners) listener(state);
  }

  resync(): void {
    for (const listener of this.fakeResync) listener();
  }
}
