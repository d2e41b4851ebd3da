import { describe, expect, it } from 'vitest';
import type { StateChange } from '../../packages/freshcache/src/adapters/resilience/circuit-breaker.js';
import { CallTimeoutError, CircuitBreaker, CircuitOpenError } from '../../packages/freshcache/src/adapters/resilience/circuit-breaker.js';
import { ManualClock } from '../../packages/freshcache/src/engine/clock.js';

const boom = () => Promise.reject(new Error('boom'));
const ok = () => Promise.resolve('ok');

function setup(options: { failureThreshold?: number; callTimeoutMs?: number; openMs?: number } = {}) {
  const clock = new ManualClock();
  const breaker = new CircuitBreaker({ name: 'redis', failureThreshold: 3, callTimeoutMs: 100, openMs: 1_000, clock, ...options });
  const changes: StateChange[] = [];
  breaker.onStateChange((change) => changes.push(change));
  const transitions = () => changes.map((c) => `${c.from}→${c.to}`);
  /** Drives the breaker open with failing calls. */
  const open = async () => {
    for (let i = 0; i < 3; i++) await breaker.run(boom).catch(() => {});
    expect(breaker.state).toBe('open');
  };
  return { clock, breaker, changes, transitions, open };
}

describe('CircuitBreaker', () => {
  it('passes results and errors through while closed', async () => {
    const { breaker, transitions } = setup();
    await expect(breaker.run(ok)).resolves.toBe('ok');
    await expect(breaker.run(boom)).rejects.toThrow('boom');
    expect(breaker.state).toBe('closed');
    expect(transitions()).toEqual([]);
  });

  it('opens after N consecutive failures, and a success in between resets the count', async () => {
    const { clock, breaker, changes, transitions } = setup();
    await breaker.run(boom).catch(() => {});
    await breaker.run(boom).catch(() => {});
    await breaker.run(ok);
    await breaker.run(boom).catch(() => {});
    await breaker.run(boom).catch(() => {});
    expect(breaker.state).toBe('closed');
    await breaker.run(boom).catch(() => {});
    expect(breaker.state).toBe('open');
    expect(transitions()).toEqual(['closed→open']);
    expect(changes[0]).toMatchObject({ breaker: 'redis', at: clock.now(), cause: new Error('boom') });
  });

  it('fails fast while open, without calling', async () => {
    const { breaker, open } = setup();
    await open();
    let called = 0;
    const error = await breaker
      .run(() => {
        called++;
        return ok();
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as Error).message).toMatch(/redis: circuit open .* next probe in 1000 ms/);
    expect(called).toBe(0);
  });

  it('after openMs lets exactly one probe through; others fail fast; success closes', async () => {
    const { clock, breaker, open, transitions } = setup();
    await open();
    clock.advance(999);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half-open');

    let release!: (value: string) => void;
    const probe = breaker.run(() => new Promise<string>((resolve) => (release = resolve)));
    let called = 0;
    await expect(
      breaker.run(() => {
        called++;
        return ok();
      }),
    ).rejects.toThrow(/half-open, a probe is in flight/);
    expect(called).toBe(0);

    release('pong');
    await expect(probe).resolves.toBe('pong');
    expect(breaker.state).toBe('closed');
    await expect(breaker.run(ok)).resolves.toBe('ok');
    expect(transitions()).toEqual(['closed→open', 'open→half-open', 'half-open→closed']);
  });

  it('reopens when the probe fails, for another openMs', async () => {
    const { clock, breaker, open, transitions } = setup();
    await open();
    clock.advance(1_000);
    await expect(breaker.run(boom)).rejects.toThrow('boom');
    expect(breaker.state).toBe('open');
    clock.advance(999);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
    await breaker.run(ok);
    expect(transitions()).toEqual(['closed→open', 'open→half-open', 'half-open→open', 'open→half-open', 'half-open→closed']);
  });

  it('a call that does not answer within callTimeoutMs fails with CallTimeoutError and counts', async () => {
    const { clock, breaker } = setup({ failureThreshold: 1 });
    const hanging = breaker.run(() => new Promise<never>(() => {}));
    const outcome = hanging.catch((e: unknown) => e);
    clock.advance(99);
    expect(breaker.state).toBe('closed');
    clock.advance(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect((error as Error).message).toBe('redis: call timed out after 100 ms');
    expect(breaker.state).toBe('open');
  });

  it('a probe that hangs times out and reopens the breaker', async () => {
    const { clock, breaker, open, transitions } = setup();
    await open();
    clock.advance(1_000);
    const probe = breaker.run(() => new Promise<never>(() => {})).catch((e: unknown) => e);
    clock.advance(100);
    expect(await probe).toBeInstanceOf(CallTimeoutError);
    expect(breaker.state).toBe('open');
    expect(transitions()).toEqual(['closed→open', 'open→half-open', 'half-open→open']);
  });

  it('a call that started before the breaker opened can neither close it nor count later', async () => {
    const { clock, breaker, transitions } = setup({ failureThreshold: 1, callTimeoutMs: 10_000 });
    let releaseSlow!: (value: string) => void;
    const slow = breaker.run(() => new Promise<string>((resolve) => (releaseSlow = resolve)));
    let failLate!: (error: Error) => void;
    const late = breaker.run(() => new Promise<string>((_, reject) => (failLate = reject))).catch(() => {});
    await breaker.run(boom).catch(() => {});
    clock.advance(1_000);
    expect(breaker.state).toBe('half-open');
    // Not the probe: its success says nothing about the dependency now.
    releaseSlow('stale success');
    await expect(slow).resolves.toBe('stale success');
    expect(breaker.state).toBe('half-open');
    await breaker.run(ok);
    expect(breaker.state).toBe('closed');
    // A failure admitted in an earlier closed period does not count in this one.
    failLate(new Error('stale failure'));
    await late;
    expect(breaker.state).toBe('closed');
    expect(transitions()).toEqual(['closed→open', 'open→half-open', 'half-open→closed']);
  });

  it('errors that isFailure rejects pass through without opening', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ failureThreshold: 1, clock, isFailure: (e) => !(e instanceof RangeError) });
    await expect(breaker.run(() => Promise.reject(new RangeError('no such key')))).rejects.toThrow('no such key');
    expect(breaker.state).toBe('closed');
  });

  it('a synchronous throw counts like a rejection', async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    await expect(
      breaker.run(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(breaker.state).toBe('open');
  });

  it('calls in flight together each time out at their own deadline, and answered ones never do', async () => {
    const { clock, breaker } = setup({ failureThreshold: 10 });
    const first = breaker.run(() => new Promise<never>(() => {})).catch((e: unknown) => e);
    clock.advance(30);
    let answer = (_value: string) => {};
    const second = breaker.run(() => new Promise<string>((resolve) => (answer = resolve)));
    clock.advance(30);
    const third = breaker.run(() => new Promise<never>(() => {})).catch((e: unknown) => e);
    clock.advance(10);
    answer('in time');
    expect(await second).toBe('in time');
    clock.advance(29); // t = 99
    const settled: string[] = [];
    void first.then(() => settled.push('first'));
    void third.then(() => settled.push('third'));
    await Promise.resolve();
    expect(settled).toEqual([]);
    clock.advance(1); // t = 100: the first call's deadline
    expect(await first).toBeInstanceOf(CallTimeoutError);
    expect(settled).toEqual(['first']);
    clock.advance(59); // t = 159
    await Promise.resolve();
    expect(settled).toEqual(['first']);
    clock.advance(1); // t = 160: the third call's deadline
    expect(await third).toBeInstanceOf(CallTimeoutError);
  });

  it('counts a call that answers after its timeout once: as the timeout, never again as a success', async () => {
    const { clock, breaker } = setup({ failureThreshold: 2 });
    let answer = (_value: string) => {};
    const late = breaker.run(() => new Promise<string>((resolve) => (answer = resolve))).catch((e: unknown) => e);
    clock.advance(100);
    expect(await late).toBeInstanceOf(CallTimeoutError);
    answer('too late'); // must not reset the failure count
    await Promise.resolve();
    await breaker.run(boom).catch(() => {});
    expect(breaker.state).toBe('open');
  });

  it('a call made after every earlier call settled still times out at its own deadline', async () => {
    const { clock, breaker } = setup({ failureThreshold: 10 });
    await breaker.run(ok); // arms the watch timer for t = 100, then leaves the queue empty
    clock.advance(50);
    const hanging = breaker.run(() => new Promise<never>(() => {})).catch((e: unknown) => e);
    const settled: unknown[] = [];
    void hanging.then((e) => settled.push(e));
    clock.advance(50); // t = 100: the old timer fires; the new call is not due
    await Promise.resolve();
    expect(settled).toEqual([]);
    clock.advance(50); // t = 150
    expect(await hanging).toBeInstanceOf(CallTimeoutError);
  });

  it('a listener that throws rejects the call whose outcome it ran in, and the watch timer keeps working', async () => {
    const { clock, breaker } = setup({ failureThreshold: 1 });
    breaker.onStateChange((change) => {
      if (change.to === 'open') throw new Error('listener failed');
    });
    // A timeout opens the breaker from the watch timer, and the listener throws there.
    const hanging = breaker.run(() => new Promise<never>(() => {})).catch((e: unknown) => e);
    clock.advance(100);
    expect(await hanging).toMatchObject({ message: 'listener failed' });
    expect(breaker.state).toBe('open');
    clock.advance(1_000);
    await expect(breaker.run(ok)).resolves.toBe('ok'); // the probe closes it
    // The timer still times calls out after a listener threw inside it.
    const next = breaker.run(() => new Promise<never>(() => {})).catch((e: unknown) => e);
    clock.advance(100);
    expect(await next).toMatchObject({ message: 'listener failed' });
    expect(breaker.state).toBe('open');
  });

  it('a per-call timeout overrides callTimeoutMs', async () => {
    const { clock, breaker } = setup();
    const slow = breaker.run(() => new Promise<never>(() => {}), { timeoutMs: 5_000 }).catch((e: unknown) => e);
    clock.advance(4_999);
    clock.advance(1);
    expect(await slow).toBeInstanceOf(CallTimeoutError);
  });

  it('rejects nonsensical options', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ callTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ openMs: -1 })).toThrow(RangeError);
  });

  it('stops notifying an unsubscribed listener', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ failureThreshold: 1, clock });
    let seen = 0;
    const unsubscribe = breaker.onStateChange(() => seen++);
    unsubscribe();
    await breaker.run(boom).catch(() => {});
    expect(seen).toBe(0);
  });
});
