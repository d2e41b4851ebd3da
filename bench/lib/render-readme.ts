import type { Scenario } from '../scenarios.js';
import type { Machine } from './machine.js';
import { markdownTable } from './markdown-table.js';
import type { Row } from './row.js';

/** The latest result of one scenario, kept in bench/.results/latest.json between runs. */
export interface ScenarioResult {
  rows: Row[];
  tables?: { title: string; rows: Row[] }[];
  machine: Machine;
  /** 1-minute load average just before and just after the scenario: a busy machine shows here. */
  load: { before: number; after: number };
  seconds: number;
}

const HOW_TO_RUN = `## How to run

\`\`\`sh
npm run bench              # every scenario, then rewrites this file
npm run bench -- l1        # only scenarios whose name contains "l1" (also: http, purge, l2, propagation)
\`\`\`

\`l2-redis-get-hit\` and \`propagation-commit-to-applied\` start a redis-server and a PostgreSQL of their own
(\`src/tools/local-redis.ts\`, \`src/tools/local-postgres.ts\`: free ports, temp folders, stopped at the end), so
they need the server binaries on the machine: \`bash scripts/ensure-test-deps.sh\` installs them with apt.

Each scenario runs in a node process of its own (\`node --import tsx bench/run-scenario.ts <name>\`), so the heap,
JIT state and GC pressure of one never leak into the next; progress goes to stderr. The latest rows of every
scenario are kept in \`bench/.results/latest.json\` (git-ignored), so a filtered run rewrites this file with its
new rows next to the previous rows of the others.

Targets are written next to the measured numbers and marked met or not met; nothing fails on a number. Timings
on a shared or virtual machine move by ±20 % from run to run: compare runs on one machine, and look at the load
average printed with each scenario (above the number of cores, something else was running).`;

/** bench/README.md: how to run, what each scenario measures, and its latest table. */
export function renderReadme(scenarios: readonly Scenario[], results: Record<string, ScenarioResult>): string {
  const sections = scenarios.map((scenario, i) => {
    const result = results[scenario.name];
    const measured = result
      ? [
          `Measured ${result.machine.date} on ${result.machine.cores} × ${result.machine.cpu} (${result.machine.memoryGiB} GiB, ${result.machine.platform}), ` +
            `Node ${result.machine.node}; load average ${result.load.before.toFixed(2)} before, ${result.load.after.toFixed(2)} after; took ${result.seconds.toFixed(0)} s.`,
          '',
          markdownTable(result.rows),
          ...(result.tables ?? []).flatMap((table) => ['', `**${table.title}.**`, '', markdownTable(table.rows)]),
        ].join('\n')
      : '_Not measured yet: run `npm run bench`._';
    return [
      `## ${i + 1}. ${scenario.title} (\`${scenario.name}\`)`,
      '',
      '**What it measures.**',
      '',
      scenario.measures
        .split('\n')
        .map((line) => `- ${line}`)
        .join('\n'),
      '',
      '**Latest results.**',
      '',
      measured,
      ...(scenario.notes ? ['', '**Reading the numbers.**', '', scenario.notes] : []),
    ].join('\n');
  });
  return [
    '# freshcache benchmarks',
    '',
    '_This file is written by `bench/run.ts`; edit the text there (and in `bench/scenarios.ts`, `bench/lib/render-readme.ts`), not here._',
    '',
    HOW_TO_RUN,
    '',
    ...sections.flatMap((s) => [s, '']),
  ].join('\n');
}
