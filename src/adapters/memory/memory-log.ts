import type { Clock } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import type { InvalidationEvent, InvalidationInput, InvalidationLog, Subscription } from '../../seams/invalidation-log.js';

export interface MemoryLogOptions {
  clock?: Clock;
  /** Events kept for late subscribers; older ones are trimmed. */
  retain?: number;
  /** Told when a subscriber throws; delivery to the others goes on. */
  onSubscriberError?: (error: unknown, event: InvalidationEvent) => void;
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
  private nextId = 1;
  private readonly onSubscriberError: (error: unknown, event: InvalidationEvent) => void;

  constructor(options: MemoryLogOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.retain = options.retain ?? 10_000;
    this.onSubscriberError = options.onSubscriberError ?? (() => {});
  }

  async publish(input: InvalidationInput): Promise<InvalidationEvent> {
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
    return event;
  }

  subscribe(options: {
    afterId: number;
    onEvent: (event: InvalidationEvent) => void;
    onGap?: (info: { afterId: number; oldestRetainedId: number }) => void;
  }): Subscription {
    const oldest = this.events[0]?.id ?? this.nextId;
    if (options.afterId + 1 < oldest) options.onGap?.({ afterId: options.afterId, oldestRetainedId: oldest });
    for (const event of this.events) if (event.id > options.afterId) options.onEvent(event);
    const deliver = (event: InvalidationEvent) => options.onEvent(event);
    this.subscribers.add(deliver);
    return { close: () => void this.subscribers.delete(deliver) };
  }

  async lastId(): Promise<number> {
    return this.nextId - 1;
  }

  async close(): Promise<void> {
    this.subscribers.clear();
  }
}
