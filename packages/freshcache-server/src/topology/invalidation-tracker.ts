import type { InvalidationEvent } from 'freshcache';
import type { AppliedInvalidation } from './region.js';

export interface RegionProgress {
  appliedAt: number | null;
  /** Applied minus committed at the origin: what a reader in the region waited for freshness. */
  lagMs: number | null;
  skipped: boolean;
}

export interface InvalidationStatus {
  id: number;
  /** As published: a kind or format version a node does not know makes it flush. */
  kind: string;
  v: number;
  source: InvalidationEvent['source'];
  keys: string[];
  tags: string[];
  prefixes: string[];
  version: number | undefined;
  committedAt: number;
  publishedAt: number;
  regions: Record<string, RegionProgress>;
  /** True once every region applied (or deliberately skipped) it. */
  complete: boolean;
}

/** Remembers the latest invalidations and when each region applied them, for the API and dashboard. */
export class InvalidationTracker {
  private readonly statuses = new Map<number, InvalidationStatus>();

  constructor(
    private readonly regionNames: () => string[],
    private readonly retain = 1000,
  ) {}

  published(event: InvalidationEvent): InvalidationStatus {
    const existing = this.statuses.get(event.id);
    if (existing) return existing;
    const regions: Record<string, RegionProgress> = {};
    for (const name of this.regionNames()) regions[name] = { appliedAt: null, lagMs: null, skipped: false };
    const status: InvalidationStatus = {
      id: event.id,
      kind: event.kind,
      v: event.v,
      source: event.source,
      // A newer release's event may lack these: readers of a status (the dashboard) can rely on lists.
      keys: listOf(event.keys),
      tags: listOf(event.tags),
      prefixes: listOf(event.prefixes),
      version: event.version,
      committedAt: event.committedAt,
      publishedAt: event.publishedAt,
      regions,
      complete: false,
    };
    this.statuses.set(event.id, status);
    if (this.statuses.size > this.retain) this.statuses.delete(this.statuses.keys().next().value!);
    return status;
  }

  applied({ region, event, appliedAt, skipped }: AppliedInvalidation): InvalidationStatus {
    const status = this.published(event);
    // Applying twice (a replay) keeps the first time: that is when the region became fresh.
    const progress = status.regions[region];
    if (!progress || progress.appliedAt === null) {
      status.regions[region] = { appliedAt, lagMs: appliedAt - event.committedAt, skipped };
    }
    status.complete = Object.values(status.regions).every((r) => r.appliedAt !== null);
    return status;
  }

  get(id: number): InvalidationStatus | undefined {
    return this.statuses.get(id);
  }

  /** Newest first. */
  recent(limit: number): InvalidationStatus[] {
    return [...this.statuses.values()].slice(-limit).reverse();
  }
}

function listOf(value: string[] | undefined): string[] {
  return Array.isArray(value) ? value : [];
}
