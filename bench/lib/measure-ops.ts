import { performance } from 'node:perf_hooks';

/** One pass over the keys; resolves to the number of operations it did. */
export type Pass = () => number | Promise<number>;

export interface OpsSubject {
  name: string;
  /** Runs passes for about `budgetMs` and says how many operations were done in how long. */
  runFor: (budgetMs: number) => Promise<{ ops: number; ms: number }>;
}

export interface MeasureOpsOptions {
  rounds: number;
  roundMs: number;
  /** Untimed run per subject first, so every subject is measured after the JIT has settled. */
  warmupMs: number;
  onProgress?: (fraction: number, label: string) => void;
}

/**
 * Ops/s of each subject in each round. Subjects take turns round by round (A B C, A B C, …) so a
 * slow drift of the machine (thermal, a noisy neighbour) spreads over all of them instead of
 * landing on whichever ran last. Returns one ops/s sample per round per subject.
 */
export async function measureOps(subjects: readonly OpsSubject[], options: MeasureOpsOptions): Promise<Map<string, number[]>> {
  const samples = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  const steps = subjects.length * (options.rounds + 1);
  let step = 0;
  for (const subject of subjects) {
    options.onProgress?.(step++ / steps, `warm-up ${subject.name}`);
    await subject.runFor(options.warmupMs);
  }
  for (let round = 1; round <= options.rounds; round++) {
    for (const subject of subjects) {
      options.onProgress?.(step++ / steps, `round ${round}/${options.rounds} ${subject.name}`);
      const { ops, ms } = await subject.runFor(options.roundMs);
      samples.get(subject.name)!.push((ops / ms) * 1000);
    }
  }
  options.onProgress?.(1, 'measured');
  return samples;
}

/** Runs `pass` until `budgetMs` is spent. */
export async function runPasses(pass: Pass, budgetMs: number): Promise<{ ops: number; ms: number }> {
  // Garbage left by earlier work should not be collected on this run's clock (needs --expose-gc).
  globalThis.gc?.();
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  // The clock is read once per pass (thousands of ops), so reading it costs nothing measurable.
  while (elapsed < budgetMs) {
    ops += await pass();
    elapsed = performance.now() - start;
  }
  return { ops, ms: elapsed };
}
