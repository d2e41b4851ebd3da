import type { ApplyMarks } from '../seams/apply-marks.js';
import type { Clock, Timer } from './clock.js';

/** How often a node reports how far it applied the log, at most. */
export const APPLY_MARK_INTERVAL_MS = 100;

/**
 * Reports a node's high-water marks (ApplyMarks) for each region it serves, at most one write per
 * region per interval: the first applied event is written at once, the ones after it within the
 * interval are folded into one mark written when the interval ends (the newest position, with
 * the time it was applied). Failures are reported, never thrown: a mark is for showing progress.
 */
export class ApplyMarkReporter {
  private readonly regions = new Map<string, { position: number; at: number; written: number; lastWriteAt: number; timer?: Timer }>();

  constructor(
    private readonly options: { marks: ApplyMarks; node: string; clock: Clock; intervalMs?: number; onError?: (error: unknown) => void },
  ) {}

  /** `region` applied log position `position` at `at`. */
  applied(region: string, position: number, at: number): void {
    const state = this.regions.get(region) ?? { position: 0, at: 0, written: 0, lastWriteAt: -Infinity };
    this.regions.set(region, state);
    if (position <= state.position) return;
    state.position = position;
    state.at = at;
    if (state.timer !== undefined) return;
    const interval = this.options.intervalMs ?? APPLY_MARK_INTERVAL_MS;
    const wait = state.lastWriteAt + interval - this.options.clock.now();
    if (wait <= 0) this.write(region);
    else state.timer = this.options.clock.setTimeout(() => this.write(region), wait);
  }

  /** Writes what is pending now, and stops. */
  stop(): void {
    for (const [region, state] of this.regions) {
      state.timer?.cancel();
      state.timer = undefined;
      if (state.position > state.written) this.write(region);
    }
  }

  private write(region: string): void {
    const state = this.regions.get(region)!;
    state.timer = undefined;
    state.lastWriteAt = this.options.clock.now();
    state.written = state.position;
    this.options.marks.report({ node: this.options.node, region, position: state.position, at: state.at }).catch((error: unknown) => this.options.onError?.(error));
  }
}
