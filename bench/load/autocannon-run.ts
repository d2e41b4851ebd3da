/**
 * autocannon in a process of its own, measuring its own CPU over its run as `freshcache load`
 * does (`clientCoresBusy`), so the two clients' CPU per request compare: prints one JSON line.
 * Usage: autocannon-run.ts <url> <connections> <seconds>
 */
import { createRequire } from 'node:module';

interface AutocannonResult {
  requests: { total: number };
  duration: number;
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
}
// autocannon ships no types; its programmatic API resolves with the same result its -j prints.
const autocannon = createRequire(import.meta.url)('autocannon') as (options: { url: string; connections: number; duration: number }) => Promise<AutocannonResult>;

const [, , url, connections, seconds] = process.argv;
const cpuAtStart = process.cpuUsage();
const started = performance.now();
const result = await autocannon({ url: url!, connections: Number(connections), duration: Number(seconds) });
const cpu = process.cpuUsage(cpuAtStart);
const elapsedMs = performance.now() - started;
process.stdout.write(`${JSON.stringify({ ...result, clientCoresBusy: (cpu.user + cpu.system) / 1000 / elapsedMs })}\n`);
