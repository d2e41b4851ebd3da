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
npm run bench -- l1        # only scenarios whose name contains "l1" (also: http, purge, l2, propagation, pipeline, cluster)
\`\`\`

\`l1-get-hit\`, \`l2-redis-get-hit\`, \`propagation-commit-to-applied\` and \`pipeline-change-throughput\` start a redis-server (and the last two a PostgreSQL) of their own
(\`packages/freshcache-server/src/tools/local-redis.ts\`, \`packages/freshcache-server/src/tools/local-postgres.ts\`: free ports, temp folders, stopped at the end), and
\`cluster-resharding-1m\` and \`cluster-failover\` start a Redis Cluster (the second a PostgreSQL too) and drive \`redis-cli --cluster\` (redis-tools, which Debian's redis-server package brings),
\`http-edge-get-hit\` runs wrk against the servers and starts a varnishd of its own, so these binaries must be on the
machine: \`npm run bench\` first runs \`bench/ensure-bench-deps.sh\`, which installs whatever is missing with apt (as
root) or says exactly what to install.

Each scenario runs in a node process of its own (\`node --conditions=freshcache-source --import tsx bench/run-scenario.ts <name>\`), so the heap,
JIT state and GC pressure of one never leak into the next; progress goes to stderr. The latest rows of every
scenario are kept in \`bench/.results/latest.json\` (git-ignored), so a filtered run rewrites this file with its
new rows next to the previous rows of the others.

Targets are written next to the measured numbers and marked met or not met; nothing fails on a number. Timings
on a shared or virtual machine move by ±20 % from run to run: compare runs on one machine, and look at the load
average printed with each scenario (above the number of cores, something else was running).`;

const LATEST = '**Latest results.**';

/**
 * The results block of each scenario in a README written before: bench/.results/ is git-ignored,
 * so on a fresh clone a filtered run (`npm run bench -- http`) keeps the committed tables of the
 * scenarios it did not run instead of wiping them.
 */
function previousResults(readme: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const section of readme.split(/^(?=## \d+\. )/m)) {
    const name = /^## \d+\. .*\(`([^`]+)`\)$/m.exec(section)?.[1];
    const start = section.indexOf(LATEST);
    if (!name || start === -1) continue;
    const block = section.slice(start + LATEST.length).split(/^\*\*Reading the numbers\.\*\*$/m)[0]!.trim();
    if (!block.startsWith('_Not measured yet')) found.set(name, block);
  }
  return found;
}

/** bench/README.md: how to run, what each scenario measures, and its latest table. */
export function renderReadme(scenarios: readonly Scenario[], results: Record<string, ScenarioResult>, previousReadme = ''): string {
  const previous = previousResults(previousReadme);
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
      : (previous.get(scenario.name) ?? '_Not measured yet: run `npm run bench`._');
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
      LATEST,
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
