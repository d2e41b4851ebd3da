import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/** The budget of the whole `npm test` on a 2-core machine: the table shows how much each file uses. */
const BUDGET_S = 15 * 60;

/**
 * Prints every test file's duration, slowest first, with its project and share of the run, so
 * that a file that grows slow is seen before the suite outgrows its budget.
 */
export default class DurationsReporter implements Reporter {
  private started = performance.now();

  onTestRunStart(): void {
    this.started = performance.now();
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const wallS = (performance.now() - this.started) / 1000;
    const rows = testModules
      .map((module) => ({ file: relative(process.cwd(), module.moduleId), project: module.project.name, s: module.diagnostic().duration / 1000 }))
      .sort((a, b) => b.s - a.s);
    const lines = rows.map((r) => `${r.s.toFixed(1).padStart(7)} s  ${r.project.padEnd(11)} ${r.file}`);
    console.log(
      [
        '',
        `Test files by duration (${rows.length} files; the run took ${wallS.toFixed(0)} s of its ${BUDGET_S / 60} min budget):`,
        ...lines,
        '',
      ].join('\n'),
    );
  }
}
