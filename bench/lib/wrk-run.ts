import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface WrkResult {
  requests: number;
  seconds: number;
  requestsPerSec: number;
  latencyMeanMs: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  errors: number;
  non2xx: number;
  /** wrk's own CPU time over the run: near `seconds × threads` means the client was the limit. */
  clientCpuSec: number;
}

export interface WrkRun {
  url: string;
  threads: number;
  connections: number;
  durationSec: number;
  /** taskset's CPU list for wrk. */
  cpus: string;
}

interface WrkReport {
  requests: number;
  durationUs: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  timeouts: number;
  non2xx: number;
  latencyMeanUs: number;
  latencyP50Us: number;
  latencyP99Us: number;
  cpuSec: number;
}

const REPORT_SCRIPT = fileURLToPath(new URL('../http/wrk-report.lua', import.meta.url));

/** Runs wrk (a C load generator: event loop per thread, no per-request allocation) and reads its JSON report line. */
export async function wrkRun({ url, threads, connections, durationSec, cpus }: WrkRun): Promise<WrkResult> {
  const args = ['-c', cpus, 'wrk', '-t', String(threads), '-c', String(connections), '-d', `${durationSec}s`, '-s', REPORT_SCRIPT, url];
  const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`wrk exited with ${code}: ${stderr.trim() || stdout.trim()}`);
  const report = JSON.parse(line) as WrkReport;
  const seconds = report.durationUs / 1e6;
  return {
    requests: report.requests,
    seconds,
    requestsPerSec: report.requests / seconds,
    latencyMeanMs: report.latencyMeanUs / 1000,
    latencyP50Ms: report.latencyP50Us / 1000,
    latencyP99Ms: report.latencyP99Us / 1000,
    errors: report.connectErrors + report.readErrors + report.writeErrors + report.timeouts,
    non2xx: report.non2xx,
    clientCpuSec: report.cpuSec,
  };
}
