import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Result } from 'autocannon';

export interface AutocannonRun {
  url: string;
  connections: number;
  durationSec: number;
  /** Called about twice a second with the fraction of the run done. */
  onTick?: (fraction: number) => void;
}

/**
 * Runs the autocannon CLI in a process of its own: in this process the load generator would share
 * the event loop with the server it measures, and both numbers would be wrong.
 */
export async function autocannonRun({ url, connections, durationSec, onTick }: AutocannonRun): Promise<Result> {
  const cli = fileURLToPath(import.meta.resolve('autocannon/autocannon.js'));
  const child = spawn(process.execPath, [cli, '-c', String(connections), '-d', String(durationSec), '--json', '--no-progress', url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = Date.now();
  const ticker = setInterval(() => onTick?.((Date.now() - started) / (durationSec * 1000)), 500);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  }).finally(() => clearInterval(ticker));
  if (code !== 0) throw new Error(`autocannon exited with ${code}: ${stderr.trim()}`);
  return JSON.parse(stdout) as Result;
}
