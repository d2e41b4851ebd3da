/** Where an invalidation came from: the origin's change capture, or an explicit purge. */
export type InvalidationSource = 'cdc' | 'purge';

export interface InvalidationInput {
  keys: string[];
  tags: string[];
  prefixes: string[];
  source: InvalidationSource;
  /** The origin version that caused it (CDC), so readers can tell which change it carries. */
  version?: number;
  /** When the change committed at the origin (ms epoch); for purges, when it was requested. */
  committedAt: number;
}

export interface InvalidationEvent extends InvalidationInput {
  /** Position in the log: increases with every event. */
  id: number;
  publishedAt: number;
}

export interface Subscription {
  close(): void;
}

export interface InvalidationLog {
  /** Appends an event and resolves with it once it is durable in the log. */
  publish(input: InvalidationInput): Promise<InvalidationEvent>;
  /**
   * Delivers every event after `afterId` (0: from the oldest retained), in log order, then every
   * new one. If events after `afterId` were already trimmed, `onGap` is called first: the
   * subscriber cannot prove it saw everything and must flush what it caches.
   */
  subscribe(options: {
    afterId: number;
    onEvent: (event: InvalidationEvent) => void;
    onGap?: (info: { afterId: number; oldestRetainedId: number }) => void;
  }): Subscription;
  /** The newest id, 0 when empty. */
  lastId(): Promise<number>;
  close(): Promise<void>;
}
