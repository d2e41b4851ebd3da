import type { InvalidationStatus } from '../../api/types';

export type LandingState = 'idle' | 'pending' | 'applied' | 'skipped';

/** Where one invalidation stands in one region. */
export interface Landing {
  state: LandingState;
  /** Applied minus committed, as the server measured it. */
  lagMs: number | null;
  /** 1 for the first region it landed in; null unless applied. */
  rank: number | null;
}

const IDLE: Landing = { state: 'idle', lagMs: null, rank: null };

/**
 * Each region's progress on one invalidation, with the order it landed in. The order comes from
 * `appliedAt`, not from the order events arrived in, so a status loaded after a reconnect ranks the same.
 */
export function landings(status: InvalidationStatus | undefined, regionNames: string[]): Record<string, Landing> {
  const result: Record<string, Landing> = {};
  for (const name of regionNames) {
    const progress = status?.regions[name];
    if (!progress) result[name] = IDLE;
    else if (progress.appliedAt === null) result[name] = { state: 'pending', lagMs: null, rank: null };
    else result[name] = { state: progress.skipped ? 'skipped' : 'applied', lagMs: progress.lagMs, rank: null };
  }
  const applied = regionNames.filter((name) => result[name]!.state === 'applied');
  applied.sort((a, b) => status!.regions[a]!.appliedAt! - status!.regions[b]!.appliedAt!);
  applied.forEach((name, i) => (result[name] = { ...result[name]!, rank: i + 1 }));
  return result;
}

export function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
}

/** The state in words: what the map shows in colour. */
export function describeLanding(landing: Landing): string {
  switch (landing.state) {
    case 'idle':
      return '—';
    case 'pending':
      return 'pending';
    case 'applied':
      return `applied +${Math.round(landing.lagMs ?? 0)} ms`;
    case 'skipped':
      return 'skipped (ttl)';
  }
}

