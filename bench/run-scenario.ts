/**
 * Runs one scenario in this process and writes its rows (and extra tables) as JSON to the file named in argv[3].
 * run.ts starts one process per scenario, so heap, JIT state and GC pressure of one scenario
 * never leak into the numbers of the next, and each can get its own node flags.
 */
import { writeFile } from 'node:fs/promises';
import { Progress } from './lib/progress.js';
import { scenarios } from './scenarios.js';

const [, , name, outFile] = process.argv;
const scenario = scenarios.find((s) => s.name === name);
if (!scenario || !outFile) {
  process.stderr.write(`usage: run-scenario.ts <${scenarios.map((s) => s.name).join('|')}> <out.json>\n`);
  process.exit(2);
}
const progress = new Progress(scenario.name);
const started = Date.now();
const output = await scenario.run(progress);
const result = Array.isArray(output) ? { rows: output } : output;
progress.done(`${result.rows.length} rows in ${((Date.now() - started) / 1000).toFixed(1)} s`);
await writeFile(outFile, JSON.stringify(result));
// Servers, pools or timers a library left behind must not keep the child alive.
process.exit(0);
