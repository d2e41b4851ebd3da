import type { Clock } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { GapInfo, GroupSubscription, InvalidationEvent, InvalidationInput, InvalidationLog, Subscription } from '../../seams/invalidation-log.js';

export interface MemoryLogOptions {
  clock?: Clock;
  /** Events kept for late subscribers; older ones are trimmed. */
  retain?: number;
  /** A group consumer that failed on an event gets it again (or another consumer does) after this long. */
  retryAfterMs?: number;
  /** Told when a subscriber or consumer throws; delivery to the others goes on. */
  onSubscriberError?: (error: unknown, event: InvalidationEvent) => void;
}

type Consumer = (event: InvalidationEvent) => Promise<void>;

interface Group {
  name: string;
  consumers: Consumer[];
  /** Round robin over the consumers. */
  next: number;
  /** Events that came while the group had no consumer: handed out when one joins. */
  waiting: InvalidationEvent[];
}

/**
 * An in-process invalidation log: ordered events with ids, bounded retention, replay from a
 * position and gap detection. Delivery is immediate; simulated propagation delay belongs to the
 * region that consumes the log, so the same delay applies on top of any log.
 */
export class MemoryLog implements InvalidationLog {
  private readonly clock: Clock;
  private readonly retain: number;
  private readonly events: InvalidationEvent[] = [];
  private readonly subscribers = new Set<(event: InvalidationEvent) => void>();
  private readonly groups = new Map<string, Group>();
  private nextId = 1;
  private readonly retryAfterMs: number;
  private readonly onSubscriberError: (error: unknown, event: InvalidationEvent) => void;

  constructor(options: MemoryLogOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.retain = options.retain ?? 10_000;
    this.retryAfterMs = options.retryAfterMs ?? 1_000;
    this.onSubscriberError = options.onSubscriberError ?? (() => {});
  }

  async publish(input: InvalidationInput): Promise<InvalidationEvent> {
    return this.append(input);
  }

  /** Synchronous, so no other publish can interleave: the batch's ids are consecutive. */
  async publishMany(inputs: readonly InvalidationInput[]): Promise<InvalidationEvent[]> {
    return inputs.map((input) => this.append(input));
  }

  private append(input: InvalidationInput): InvalidationEvent {
    const event: InvalidationEvent = Object.freeze({ ...input, id: this.nextId++, publishedAt: this.clock.now() });
    this.events.push(event);
    if (this.events.length > this.retain) this.events.splice(0, this.events.length - this.retain);
    // One failing subscriber must not keep the event from the others: that would be a lost invalidation.
    for (const deliver of this.subscribers) {
      try {
        deliver(event);
      } catch (error) {
        this.onSubscriberError(error, event);
      }
    }
    for (const group of this.groups.values()) this.handOut(group, event);
    return event;
  }

  subscribe(options: { afterId: number; onEvent: (event: InvalidationEvent) => void; onGap?: (info: GapInfo) => void }): Subscription {
    let afterId = options.afterId;
    if (afterId > this.nextId - 1) {
      // A position this log never reached belongs to a log that was lost.
      options.onGap?.({ reason: 'reset', afterId, oldestRetainedId: 0 });
      afterId = 0;
    }
    const oldest = this.events[0]?.id ?? this.nextId;
    if (afterId + 1 < oldest) options.onGap?.({ reason: 'trimmed', afterId, oldestRetainedId: oldest });
    for (const event of this.events) if (event.id > afterId) options.onEvent(event);
    const deliver = (event: InvalidationEvent) => options.onEvent(event);
    this.subscribers.add(deliver);
    return {
      close: async () => {
        this.subscribers.delete(deliver);
      },
    };
  }

  async consume(options: { group: string; consumer: string; onEvent: (event: InvalidationEvent) => Promise<void> }): Promise<GroupSubscription> {
    let group = this.groups.get(options.group);
    if (!group) {
      group = { name: options.group, consumers: [], next: 0, waiting: [] };
      this.groups.set(options.group, group);
    }
    /** Events this consumer is applying: leaving waits for them. */
    const inHand = new Set<Promise<void>>();
    const consumer: Consumer = (event) => {
      const handling = options.onEvent(event);
      inHand.add(handling);
      return handling.finally(() => inHand.delete(handling));
    };
    group.consumers.push(consumer);
    // Events that waited for a consumer (or for a healthy one) go out now.
    for (const event of group.waiting.splice(0)) this.handOut(group, event);
    const joined = group;
    const close = async () => {
      const index = joined.consumers.indexOf(consumer);
      if (index >= 0) joined.consumers.splice(index, 1);
    };
    return {
      close,
      // A failed event goes back to the group (handOut retries it), so what is in hand is all it holds.
      leave: async () => {
        await close();
        await Promise.allSettled([...inHand]);
      },
    };
  }

  async lastId(): Promise<number> {
    return this.nextId - 1;
  }

  async close(): Promise<void> {
    this.subscribers.clear();
    this.groups.clear();
  }

  private handOut(group: Group, event: InvalidationEvent): void {
    const name = group.name;
    if (group.consumers.length === 0) {
      group.waiting.push(event);
      return;
    }
    const consumer = group.consumers[group.next++ % group.consumers.length]!;
    Promise.resolve()
      .then(() => consumer(event))
      .catch((error: unknown) => {
        this.onSubscriberError(error, event);
        this.clock.setTimeout(() => {
          if (this.groups.get(name) === group) this.handOut(group, event);
        }, this.retryAfterMs);
      });
  }
}
