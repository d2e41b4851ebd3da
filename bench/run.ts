/**
 * `npm run bench [-- <filter>]`: runs each scenario (whose name contains the filter) in a child
 * node process, one after the other, then rewrites bench/README.md with the latest results.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { machine } from './lib/machine.js';
import type { ScenarioResult } from './lib/render-readme.js';
import { renderReadme } from './lib/render-readme.js';
import type { ScenarioOutput } from './lib/row.js';
import { scenarios } from './scenarios.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = fileURLToPath(new URL('./.results/', import.meta.url));
const latestFile = `${resultsDir}latest.json`;
const readmeFile = fileURLToPath(new URL('./README.md', import.meta.url));
const runner = fileURLToPath(new URL('./run-scenario.ts', import.meta.url));

const filter = process.argv[2];
const selected = scenarios.filter((s) => filter === undefined || s.name.includes(filter));
if (selected.length === 0) {
  process.stderr.write(`no scenario matches "${filter}"; scenarios: ${scenarios.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}

// wrk, Varnish, redis-server and PostgreSQL: installed with apt when missing (as root), or named.
const deps = spawnSync('bash', [fileURLToPath(new URL('./ensure-bench-deps.sh', import.meta.url))], { stdio: 'inherit' });
if (deps.status !== 0) process.exit(deps.status ?? 1);

await mkdir(resultsDir, { recursive: true });
const results = await readFile(latestFile, 'utf8').then(
  (text) => JSON.parse(text) as Record<string, ScenarioResult>,
  () => ({}) as Record<string, ScenarioResult>,
);

let failed = 0;
for (const [i, scenario] of selected.entries()) {
  process.stderr.write(`\n(${i + 1}/${selected.length}) ${scenario.title}\n`);
  const out = `${resultsDir}${scenario.name}.rows.json`;
  const load = { before: os.loadavg()[0] ?? 0, after: 0 };
  const started = Date.now();
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [...scenario.nodeFlags, '--conditions=freshcache-source', '--import', 'tsx', runner, scenario.name, out], { cwd: root, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', resolve);
  });
  load.after = os.loadavg()[0] ?? 0;
  if (code !== 0) {
    // The README keeps the previous rows of a scenario that failed; the exit code says it failed.
    failed++;
    process.stderr.write(`[${scenario.name}] failed (exit code ${code}); its previous results are kept\n`);
    continue;
  }
  const output = JSON.parse(await readFile(out, 'utf8')) as ScenarioOutput;
  await rm(out);
  results[scenario.name] = { ...output, machine: machine(), load, seconds: (Date.now() - started) / 1000 };
  await writeFile(latestFile, JSON.stringify(results, null, 2));
}

const previousReadme = await readFile(readmeFile, 'utf8').catch(() => '');
await writeFile(readmeFile, renderReadme(scenarios, results, previousReadme));
process.stderr.write(`\nwrote ${readmeFile}${failed > 0 ? ` (${failed} scenario(s) failed)` : ''}\n`);
process.exitCode = failed > 0 ? 1 : 0;
