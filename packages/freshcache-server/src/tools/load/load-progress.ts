import type { LoadStats, Tally } from './load-stats.js';
import { textTable } from './load-report.js';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (us: number) => `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
const percent = (ratio: number | undefined) => (ratio === undefined ? '-' : `${(ratio * 100).toFixed(1)} %`);

/**
 * What the last interval did, per region and for the writes: on a TTY one block redrawn in place
 * each interval, otherwise one plain line per interval (for logs and CI).
 */
export class LoadProgress {
  private drawnLines = 0;

  constructor(
    private readonly stream: ProgressStream,
    private readonly durationMs: number,
  ) {}

  /** The interval's tallies (`stats.regions[].interval`), `intervalMs` long, `elapsedMs` into the run. */
  update(stats: LoadStats, elapsedMs: number, intervalMs: number): void {
    const perSecond = (count: number) => (count * 1000) / intervalMs;
    const regions = [...stats.regions].map(([name, pair]) => ({ name, tally: pair.interval }));
    const reads = regions.reduce((sum, r) => sum + r.tally.ok + r.tally.failed, 0);
    const writes = stats.writes.interval;
    const clock = `${Math.round(elapsedMs / 1000)} s / ${Math.round(this.durationMs / 1000)} s`;
    if (!this.stream.isTTY) {
      const p = (tally: Tally, q: number) => (tally.latencyUs.totalCount ? ms(tally.latencyUs.getValueAtPercentile(q)) : '-');
      const parts = regions.map((r) => `${r.name} ${int(perSecond(r.tally.ok + r.tally.failed))}/s p50 ${p(r.tally, 50)} p99 ${p(r.tally, 99)} hit ${percent(r.tally.hitRatio)} err ${int(r.tally.failed)}`);
      this.stream.write(`${clock}: reads ${int(perSecond(reads))}/s; ${parts.join('; ')}; writes ${int(perSecond(writes.ok + writes.failed))}/s failed ${int(writes.failed)}\n`);
      return;
    }
    const row = (name: string, tally: Tally) => [
      name,
      int(perSecond(tally.ok + tally.failed)),
      tally.latencyUs.totalCount ? ms(tally.latencyUs.getValueAtPercentile(50)) : '-',
      tally.latencyUs.totalCount ? ms(tally.latencyUs.getValueAtPercentile(99)) : '-',
      percent(tally.hitRatio),
      int(tally.failed),
    ];
    const block = [
      `freshcache load  ${clock}  ${int(perSecond(reads))} reads/s${stats.dropped ? `  dropped ${int(stats.dropped)}` : ''}`,
      textTable([['', 'req/s', 'p50', 'p99', 'hit ratio', 'errors'], ...regions.map((r) => row(r.name, r.tally)), row('writes', writes)]),
    ].join('\n');
    // Back to the start of the last block, clear to the end of the screen, draw the new one.
    const back = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F\x1b[J` : '';
    this.stream.write(`${back}${block}\n`);
    this.drawnLines = block.split('\n').length;
  }

  /** Clears the live block, so the final report stands alone. */
  done(): void {
    if (this.stream.isTTY && this.drawnLines > 0) this.stream.write(`\x1b[${this.drawnLines}F\x1b[J`);
    this.drawnLines = 0;
  }
}
