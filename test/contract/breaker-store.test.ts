import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../packages/freshcache/src/adapters/memory/memory-store.js';
import { createRedisConnection } from '../../packages/freshcache/src/adapters/redis/redis-connection.js';
import { slotKey } from '../../packages/freshcache/src/adapters/redis/redis-keys.js';
import { RedisStore } from '../../packages/freshcache/src/adapters/redis/redis-store.js';
import { BreakerStore } from '../../packages/freshcache/src/adapters/resilience/breaker-store.js';
import type { BreakerState } from '../../packages/freshcache/src/adapters/resilience/circuit-breaker.js';
import { CircuitBreaker, CircuitOpenError } from '../../packages/freshcache/src/adapters/resilience/circuit-breaker.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';
import type { Entry } from '../../packages/freshcache/src/seams/entry.js';
import type { ScanOptions, ScanPage, Store } from '../../packages/freshcache/src/seams/store.js';
import type { RedisServer } from '../testkit/redis-server.js';
import { startRedis } from '../testkit/redis-server.js';
import { startRedisCluster } from '../testkit/redis-cluster.js';
import { entry, storeContract } from '../../packages/freshcache/src/testing/store-contract.js';

/** What the store rejects with while its breaker is open: a coded error whose cause is the breaker's refusal. */
const breakerOpen = { code: 'store_unavailable', cause: expect.any(CircuitOpenError) };

/** Resolves when the breaker is in `state`: now, or at its next transition into it. */
function reached(breaker: CircuitBreaker, state: BreakerState): Promise<void> {
  if (breaker.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const off = breaker.onStateChange((change) => {
      if (change.to !== state) return;
      off();
      resolve();
    });
  });
}

/** Turns a hang into a failure that says what never happened. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, guard]);
  } finally {
    clearTimeout(timer);
  }
}

function whenReady(client: Redis): Promise<void> {
  return client.status === 'ready' ? Promise.resolve() : new Promise((resolve) => client.once('ready', () => resolve()));
}

/** A memory store whose availability the test switches: every call rejects, hangs, or waits for release(). */
class SwitchableStore implements Store {
  readonly name = 'switchable';
  readonly capabilities = { inProcess: false, shared: true };
  readonly memory: MemoryStore;
  mode: 'up' | 'down' | 'hung' | 'gated' = 'up';
  calls = 0;
  private gated: (() => void)[] = [];

  constructor(clock: ManualClock) {
    this.memory = new MemoryStore({ clock });
  }

  get(key: string): Promise<Entry | undefined> {
    return this.call(() => this.memory.get(key));
  }
  set(key: string, entry: Entry): Promise<void> {
    return this.call(() => this.memory.set(key, entry));
  }
  delete(key: string): Promise<boolean> {
    return this.call(() => this.memory.delete(key));
  }
  clear(): Promise<void> {
    return this.call(() => this.memory.clear());
  }
  scan(options: ScanOptions): Promise<ScanPage> {
    return this.call(() => this.memory.scan(options));
  }
  size(): Promise<{ entries: number; bytes: number }> {
    return this.call(() => this.memory.size());
  }
  closed = false;
  async close(): Promise<void> {
    this.closed = true;
  }

  /** Runs the gated calls now, in order. */
  release(): void {
    for (const run of this.gated.splice(0)) run();
  }

  private call<T>(op: () => Promise<T>): Promise<T> {
    this.calls++;
    if (this.mode === 'down') return Promise.reject(new Error('ECONNREFUSED'));
    if (this.mode === 'hung') return new Promise<never>(() => {});
    if (this.mode === 'gated') return new Promise<T>((resolve, reject) => this.gated.push(() => op().then(resolve, reject)));
    return op();
  }
}

/**
 * A memory store in parts (as a Redis Cluster's primaries) that fail apart: `partOf` says which part
 * holds a key (a failover moves it), `down` which parts reject every call.
 */
class PartedStore extends SwitchableStore {
  readonly down = new Set<string>();
  partOf: (key: string) => string = (key) => key.split(':')[0]!;
  readonly dropCalls: string[][] = [];

  /** The parts that serve keys now. */
  parts = ['a', 'b'];

  partitionOf(key: string): string {
    return this.partOf(key);
  }
  partitions(): string[] {
    return this.parts;
  }
  override get(key: string): Promise<Entry | undefined> {
    return this.down.has(this.partOf(key)) ? Promise.reject(new Error(`ECONNREFUSED ${this.partOf(key)}`)) : super.get(key);
  }
  override delete(key: string): Promise<boolean> {
    return this.down.has(this.partOf(key)) ? Promise.reject(new Error(`ECONNREFUSED ${this.partOf(key)}`)) : super.delete(key);
  }
  async dropMany(drops: readonly { key: string }[]): Promise<number> {
    this.dropCalls.push(drops.map((d) => d.key));
    if (drops.some(({ key }) => this.down.has(this.partOf(key)))) throw new Error('ECONNREFUSED');
    let dropped = 0;
    for (const { key } of drops) if (await this.memory.delete(key)) dropped++;
    return dropped;
  }
}

describe('BreakerStore over a store in parts that fail apart (a Redis Cluster; fake clock)', () => {
  const setup = () => {
    const clock = new ManualClock();
    const inner = new PartedStore(clock);
    const breaker = new CircuitBreaker({ name: 'l2', failureThreshold: 2, callTimeoutMs: 100, openMs: 1_000, clock });
    const store = new BreakerStore({ store: inner, breaker, partBreaker: (part) => new CircuitBreaker({ name: `l2 ${part}`, failureThreshold: 2, callTimeoutMs: 100, openMs: 1_000, clock }) });
    return { clock, inner, breaker, store, e: (v: unknown) => entry(v, {}, clock) };
  };

  it('a part that fails opens its own breaker only: the keys of the other parts are still read from the store', async () => {
    const { inner, store, breaker, e } = setup();
    await store.set('a:1', e('a'));
    await store.set('b:1', e('b'));
    inner.down.add('a');
    for (let i = 0; i < 2; i++) expect(await store.get('a:1')).toBeUndefined();
    expect(store.partBreakers.get('a')?.state).toBe('open');
    const calls = inner.calls;
    expect(await store.get('a:1')).toBeUndefined();
    expect(inner.calls).toBe(calls); // failing fast: the dead part is not called
    expect((await store.get('b:1'))?.value).toBe('b');
    expect(store.partBreakers.get('b')?.state).toBe('closed');
    expect(breaker.state).toBe('closed');
  });

  it('a delete owed by a key stays owed when a failover moves the key to another part: it is read as a miss, deleted there, and only then read again', async () => {
    const { inner, store, e } = setup();
    await store.set('a:1', e('old'));
    inner.down.add('a');
    await expect(store.delete('a:1')).rejects.toThrow('ECONNREFUSED');
    expect(store.pendingDeletes).toBe(1);
    for (let i = 0; i < 2; i++) await store.get('a:2');
    expect(store.currentBreakers().map((b) => `${b.name} ${b.state}`)).toEqual(['l2 closed', 'l2 a open']);
    // The replica that took over part a's slots: the same data, another part.
    inner.partOf = (key) => (key.startsWith('a:') ? 'a2' : key.split(':')[0]!);
    inner.parts = ['a2', 'b'];
    expect(await store.get('a:1')).toBeUndefined();
    expect(await inner.memory.get('a:1')).toBeUndefined();
    expect(store.pendingDeletes).toBe(0);
    await store.set('a:1', e('new'));
    expect((await store.get('a:1'))?.value).toBe('new');
    // Part a serves no key any more: its breaker, open for good, is no longer reported.
    expect(store.currentBreakers().map((b) => `${b.name} ${b.state}`)).toEqual(['l2 closed', 'l2 a2 closed']);
  });

  it('replays the deletes owed by keys a failover moved to a new part, without a read of them (the old part\'s breaker never closes)', async () => {
    const { inner, store, e } = setup();
    for (const key of ['a:1', 'a:2']) await store.set(key, e('old'));
    inner.down.add('a');
    for (const key of ['a:1', 'a:2']) await expect(store.delete(key)).rejects.toThrow();
    expect(store.partBreakers.get('a')?.state).toBe('open');
    inner.partOf = (key) => (key.startsWith('a:') ? 'a2' : key.split(':')[0]!);
    inner.parts = ['a2', 'b'];
    await store.set('a:3', e('new')); // the first call to the new part
    await expect.poll(() => store.pendingDeletes).toBe(0);
    expect(await inner.memory.get('a:1')).toBeUndefined();
    expect(await inner.memory.get('a:2')).toBeUndefined();
  });

  it("drops the keys of each part in a call of its own: a dead part's keys are remembered (and the call rejects), the others are dropped", async () => {
    const { inner, store, e, clock } = setup();
    for (const key of ['a:1', 'a:2', 'b:1', 'b:2']) await store.set(key, e(key));
    inner.down.add('a');
    await expect(store.dropMany(['a:1', 'b:1', 'a:2', 'b:2'].map((key) => ({ key })))).rejects.toThrow('ECONNREFUSED');
    expect(inner.dropCalls.map((keys) => keys.join(' ')).sort()).toEqual(['a:1 a:2', 'b:1 b:2']);
    expect(await inner.memory.get('b:1')).toBeUndefined();
    expect(store.pendingDeletes).toBe(2);
    // Part a answers again: its breaker closes after its probe, and the owed deletes are replayed.
    inner.down.delete('a');
    for (let i = 0; i < 2; i++) await store.get('a:9'); // opens a's breaker (the drop counted once)
    clock.advance(1_000);
    await store.get('a:9');
    expect(store.partBreakers.get('a')?.state).toBe('closed');
    await store.replayDeletes();
    expect(store.pendingDeletes).toBe(0);
    expect(await inner.memory.get('a:1')).toBeUndefined();
  });
});

describe('BreakerStore over a store that fails (fake clock)', () => {
  const setup = (options: { failureThreshold?: number; maxPendingDeletes?: number } = {}) => {
    const clock = new ManualClock();
    const inner = new SwitchableStore(clock);
    const breaker = new CircuitBreaker({ name: 'l2', failureThreshold: options.failureThreshold ?? 2, callTimeoutMs: 100, openMs: 1_000, clock });
    const errors: unknown[] = [];
    const store = new BreakerStore({ store: inner, breaker, maxPendingDeletes: options.maxPendingDeletes, onError: (e) => errors.push(e) });
    const open = async () => {
      inner.mode = 'down';
      for (let i = 0; i < 2; i++) expect(await store.get('any')).toBeUndefined();
      expect(breaker.state).toBe('open');
    };
    /** Brings the store back and closes the breaker with one probe (a read of a key nobody deleted). */
    const recover = async () => {
      inner.mode = 'up';
      clock.advance(1_000);
      expect(breaker.state).toBe('half-open');
      await store.get('probe');
      expect(breaker.state).toBe('closed');
      await store.replayDeletes();
    };
    return { clock, inner, breaker, store, errors, open, recover, e: (v: unknown) => entry(v, {}, clock) };
  };

  it('passes name and capabilities through', async () => {
    const { inner, store } = setup();
    expect(store.name).toBe('switchable');
    expect(store.capabilities).toBe(inner.capabilities);
  });

  it('a failing read is a miss, and reports the error it hides', async () => {
    const { inner, store, e, errors, breaker } = setup();
    await store.set('k', e('v'));
    inner.mode = 'down';
    expect(await store.get('k')).toBeUndefined();
    expect(errors).toEqual([new Error('ECONNREFUSED')]);
    expect(breaker.state).toBe('closed');
  });

  it('a hung read resolves as a miss after callTimeoutMs', async () => {
    const { clock, inner, store, e } = setup();
    await store.set('k', e('v'));
    inner.mode = 'hung';
    let settled = false;
    const read = store.get('k').finally(() => {
      settled = true;
    });
    clock.advance(99);
    await Promise.resolve();
    expect(settled).toBe(false);
    clock.advance(1);
    expect(await read).toBeUndefined();
  });

  it('while open: reads are misses, writes are skipped, the wrapped store is not called; listings fail clearly', async () => {
    const { inner, store, e, open } = setup();
    await store.set('k', e('v'));
    await open();
    inner.mode = 'up';
    const calls = inner.calls;
    expect(await store.get('k')).toBeUndefined();
    await store.set('k2', e('v2'));
    expect(inner.calls).toBe(calls);
    expect(await inner.memory.get('k2')).toBeUndefined();
    await expect(store.scan({ limit: 10 })).rejects.toThrow(/l2: circuit open/);
    await expect(store.size()).rejects.toMatchObject(breakerOpen);
    await expect(store.clear()).rejects.toMatchObject(breakerOpen);
  });

  it('recovers by itself: after openMs one probe goes through and closes the breaker', async () => {
    const { store, e, open, recover } = setup();
    await store.set('k', e('v'));
    await open();
    await recover();
    expect((await store.get('k'))?.value).toBe('v');
  });

  it('a delete that cannot reach the store rejects, is remembered, and is replayed when the breaker closes', async () => {
    const { inner, store, e, open, recover } = setup();
    await store.set('k', e('old'));
    await open();
    await expect(store.delete('k')).rejects.toMatchObject(breakerOpen);
    expect(store.pendingDeletes).toBe(1);
    await recover();
    expect(await inner.memory.get('k')).toBeUndefined();
    expect(store.pendingDeletes).toBe(0);
  });

  it('until its delete lands, this node reads a remembered key as a miss, never the old value', async () => {
    const { inner, store, e, breaker } = setup({ failureThreshold: 10 });
    await store.set('k', e('old'));
    inner.mode = 'down';
    await expect(store.delete('k')).rejects.toThrow('ECONNREFUSED');
    expect(breaker.state).toBe('closed');
    inner.mode = 'up';
    // The breaker never opened, so no replay ran: the read itself deletes first.
    expect(await inner.memory.get('k')).toBeDefined();
    expect(await store.get('k')).toBeUndefined();
    expect(await inner.memory.get('k')).toBeUndefined();
    expect(store.pendingDeletes).toBe(0);
    await store.set('k', e('new'));
    expect((await store.get('k'))?.value).toBe('new');
  });

  it('a delete that began before a newer failed delete of the key does not settle it', async () => {
    const { inner, store, e } = setup({ failureThreshold: 10 });
    await store.set('k', e('v'));
    inner.mode = 'down';
    await expect(store.delete('k')).rejects.toThrow();
    inner.mode = 'gated';
    const older = store.delete('k');
    inner.mode = 'down';
    await expect(store.delete('k')).rejects.toThrow();
    inner.mode = 'up';
    inner.release();
    await older;
    expect(store.pendingDeletes).toBe(1);
  });

  it('remembers a bounded number of deletes; past that it flushes the whole store on recovery', async () => {
    const { inner, store, e, open, clock, breaker } = setup({ maxPendingDeletes: 2 });
    for (const k of ['a', 'b', 'c', 'd']) await store.set(k, e(k));
    await open();
    for (const k of ['a', 'b', 'c']) await expect(store.delete(k)).rejects.toMatchObject(breakerOpen);
    expect(store.pendingDeletes).toBe(0);
    expect(store.flushPending).toBe(true);

    inner.mode = 'up';
    clock.advance(1_000);
    // Until the flush lands every read is a miss (which keys went stale is forgotten), and the
    // read drives the flush, which is the probe.
    expect(await store.get('d')).toBeUndefined();
    await store.replayDeletes();
    expect(breaker.state).toBe('closed');
    expect(store.flushPending).toBe(false);
    expect(await inner.memory.size()).toEqual({ entries: 0, bytes: 0 });
    await store.set('d', e('d2'));
    expect((await store.get('d'))?.value).toBe('d2');
  });

  it('close() stops listening to the breaker and closes the wrapped store', async () => {
    const { store, breaker, open, inner, clock } = setup();
    await open();
    await expect(store.delete('k')).rejects.toThrow();
    await store.close();
    inner.mode = 'up';
    clock.advance(1_000);
    await breaker.run(() => Promise.resolve());
    expect(breaker.state).toBe('closed');
    // No replay ran after close: the remembered delete is still there.
    expect(store.pendingDeletes).toBe(1);
    expect(inner.closed).toBe(true);
  });
});

describe('BreakerStore over RedisStore (real redis-server)', () => {
  let server: RedisServer;
  let client: Redis;
  let namespaces = 0;

  beforeAll(async () => {
    server = await startRedis();
    client = createRedisConnection({ url: server.url });
    await whenReady(client);
  });

  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });

  // Closed, the breaker is invisible: the Store contract holds through it unchanged.
  storeContract(
    'BreakerStore (closed) over RedisStore',
    async (clock) => new BreakerStore({ store: new RedisStore({ redis: client, clock, prefix: `b${++namespaces}:` }), breaker: new CircuitBreaker({ clock }) }),
    () => new ManualClock(),
  );
});

describe('BreakerStore when Redis fails (real redis-server, real time)', () => {
  const callTimeoutMs = 200;
  // Generous for the scheduling of a loaded two-core machine; the point is "bounded", not "fast".
  const slackMs = 300;

  async function faultSetup(prefix: string) {
    const server = await startRedis();
    const connectionErrors: Error[] = [];
    const client = createRedisConnection({ url: server.url, onError: (error) => connectionErrors.push(error) });
    await within(whenReady(client), 10_000, 'the first connection');
    // openMs is long enough that "open" can be observed before it turns half-open by itself.
    const breaker = new CircuitBreaker({ name: 'redis', failureThreshold: 3, callTimeoutMs, openMs: 1_000 });
    const store = new BreakerStore({ store: new RedisStore({ redis: client, prefix }), breaker });
    const cleanup = async () => {
      client.disconnect();
      await server.stop();
    };
    return { server, client, breaker, store, connectionErrors, cleanup };
  }

  async function timedGet(store: BreakerStore, key: string) {
    const started = performance.now();
    const value = await within(store.get(key), callTimeoutMs + 5_000, `get(${key})`);
    return { value, elapsedMs: performance.now() - started };
  }

  it('killed: reads are prompt misses and the breaker opens; restarted on its port: the store recovers by itself', async () => {
    const { server, client, breaker, store, connectionErrors, cleanup } = await faultSetup('killed:');
    try {
      await store.set('k', entry('v1'));
      expect((await store.get('k'))?.value).toBe('v1');
      const opened = reached(breaker, 'open');

      await server.kill();
      for (let i = 0; i < 3; i++) {
        const { value, elapsedMs } = await timedGet(store, 'k');
        expect(value).toBeUndefined();
        expect(elapsedMs).toBeLessThan(callTimeoutMs + slackMs);
      }
      await within(opened, 5_000, 'the breaker to open');

      // Open: nothing is sent, every call answers at once.
      expect(breaker.state).toBe('open');
      expect(await store.get('k')).toBeUndefined();
      await store.set('k', entry('lost'));
      await expect(store.delete('k')).rejects.toMatchObject(breakerOpen);
      await expect(store.scan({ limit: 10 })).rejects.toThrow(/redis: circuit open/);

      const reconnected = new Promise<void>((resolve) => client.once('ready', () => resolve()));
      await server.restart();
      await within(reconnected, 10_000, 'the client to reconnect by itself');
      await within(reached(breaker, 'half-open'), 5_000, 'the breaker to let a probe through');
      // The restarted Redis is empty: a miss, but one Redis answered, so the probe closes the breaker.
      expect(await store.get('k')).toBeUndefined();
      expect(breaker.state).toBe('closed');
      await store.replayDeletes();

      await store.set('k', entry('v2'));
      expect((await store.get('k'))?.value).toBe('v2');
      expect(connectionErrors.length).toBeGreaterThan(0);
    } finally {
      await cleanup();
    }
  });

  it('hung (SIGSTOP): reads give up after callTimeoutMs; a delete it missed is replayed once it answers again', async () => {
    const prefix = 'hung:';
    const { server, client, breaker, store, cleanup } = await faultSetup(prefix);
    try {
      await store.set('stale', entry('old'));
      const opened = reached(breaker, 'open');

      server.pause();
      try {
        for (let i = 0; i < 3; i++) {
          const { value, elapsedMs } = await timedGet(store, 'stale');
          expect(value).toBeUndefined();
          expect(elapsedMs).toBeLessThan(callTimeoutMs + slackMs);
        }
        await within(opened, 5_000, 'the breaker to open');
        await expect(store.delete('stale')).rejects.toMatchObject(breakerOpen);
        expect(store.pendingDeletes).toBe(1);
      } finally {
        server.resume();
      }

      await within(reached(breaker, 'half-open'), 5_000, 'the breaker to let a probe through');
      // Any call is the probe; its success closes the breaker and the remembered delete follows.
      expect(await store.get('other')).toBeUndefined();
      expect(breaker.state).toBe('closed');
      await within(store.replayDeletes(), 5_000, 'the remembered delete');
      expect(store.pendingDeletes).toBe(0);
      expect(await client.exists(slotKey(prefix, 'stale'))).toBe(0);
    } finally {
      await cleanup();
    }
  });
});

describe('BreakerStore over RedisStore on a Redis Cluster (real redis-servers)', () => {
  it("a primary killed: its keys become misses behind its own breaker, while every other primary's keys are still read from Redis", { timeout: 60_000 }, async () => {
    const cluster = await startRedisCluster();
    const client = createRedisConnection({ cluster: cluster.nodes, onError: () => {} });
    try {
      const inner = new RedisStore({ redis: client, prefix: 'parts:' });
      const breaker = (name: string) => new CircuitBreaker({ name, failureThreshold: 2, callTimeoutMs: 300, openMs: 60_000 });
      const store = new BreakerStore({ store: inner, breaker: breaker('l2'), partBreaker: breaker });
      const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
      for (const key of keys) await store.set(key, entry(key));
      const parts = new Set(keys.map((key) => inner.partitionOf(key)));
      expect(parts.size).toBe(3);
      const victim = cluster.servers[0]!;
      const dead = `${victim.server.host}:${victim.server.port}`;
      const deadKeys = keys.filter((key) => inner.partitionOf(key) === dead);
      const liveKeys = keys.filter((key) => inner.partitionOf(key) !== dead);

      await victim.server.kill();
      for (const key of deadKeys.slice(0, 2)) expect(await store.get(key)).toBeUndefined();
      expect(store.partBreakers.get(dead)?.state).toBe('open');
      for (const key of liveKeys) expect((await store.get(key))?.value, key).toBe(key);
      for (const [part, partBreaker] of store.partBreakers) if (part !== dead) expect(partBreaker.state, part).toBe('closed');
      for (const key of deadKeys) expect(await store.get(key)).toBeUndefined();
    } finally {
      client.disconnect();
      await cluster.stop();
    }
  });
});
