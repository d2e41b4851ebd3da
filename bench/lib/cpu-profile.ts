import { findSourceMap } from 'node:module';
import type { Profiler, Runtime } from 'node:inspector';
import { fileURLToPath } from 'node:url';

/** One line of "where the time goes": a function and the CPU time spent in its own code. */
export interface SelfTimeItem {
  fn: string;
  /** Path relative to the repository (or `node:…`), with the source line where a source map gives it. */
  where: string;
  selfMs: number;
  /** Of the busy samples (idle left out): the share of the server's work. */
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Samples not idle: the main thread was running JS, GC or native code. */
  busyMs: number;
  top: SelfTimeItem[];
  /** Self time grouped by whose code it is (freshcache, fastify, node:http, GC, …). */
  groups: { group: string; selfMs: number; share: number }[];
}

/**
 * Self time per function from a V8 CPU profile: each sample is charged to the function on top of
 * the stack, for the time until the next sample. Functions are keyed by name, script and line, so
 * two closures of one name stay apart.
 */
export function summariseProfile(profile: Profiler.Profile, root: string, topN = 15): ProfileSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i, so sample i lasted until sample i + 1.
  for (let i = 0; i < samples.length; i++) {
    const next = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + next);
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, { fn: string; where: string; group: string; us: number }>();
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)!.callFrame;
    const where = location(frame, root);
    const fn = frame.functionName || (frame.url ? '(anonymous)' : frame.functionName);
    const key = `${fn}@${where}`;
    const item = byFunction.get(key) ?? { fn: fn || '(unknown)', where, group: groupOf(frame), us: 0 };
    item.us += us;
    byFunction.set(key, item);
  }
  // Idle is the event loop waiting in epoll: not work, so shares are of the busy time.
  const items = [...byFunction.values()].filter((item) => item.fn !== '(idle)').sort((a, b) => b.us - a.us);
  const busyUs = items.reduce((sum, item) => sum + item.us, 0) || 1;
  const groups = new Map<string, number>();
  for (const item of items) groups.set(item.group, (groups.get(item.group) ?? 0) + item.us);
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    top: items.slice(0, topN).map((item) => ({ fn: item.fn, where: item.where, selfMs: item.us / 1000, share: item.us / busyUs })),
    groups: [...groups]
      .sort((a, b) => b[1] - a[1])
      .map(([group, us]) => ({ group, selfMs: us / 1000, share: us / busyUs })),
  };
}

function location(frame: Runtime.CallFrame, root: string): string {
  const url = frame.url;
  if (!url) return '';
  if (!url.startsWith('file://')) return url;
  const path = fileURLToPath(url);
  // tsx compiles TypeScript with a source map: report the line in the .ts file people read.
  const original = findSourceMap(path)?.findEntry(frame.lineNumber, frame.columnNumber);
  const line = original && 'originalLine' in original ? original.originalLine + 1 : frame.lineNumber + 1;
  const relative = path.startsWith(root) ? path.slice(root.length) : path;
  return `${relative.replace(/^.*node_modules\//, '')}:${line}`;
}

function groupOf(frame: Runtime.CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'garbage collector';
    if (functionName === '(program)') return 'V8 and native code outside JS (parsing HTTP, syscalls)';
    return functionName ? `native: ${functionName}` : 'native (unnamed)';
  }
  if (url.startsWith('node:')) return /node:(_http|http)/.test(url) ? 'node:http' : /node:(net|stream|internal\/streams|internal\/stream_base)/.test(url) ? 'node:net and streams' : 'node: other';
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency) return dependency[1]!;
  if (url.includes('/src/')) return 'freshcache (src/)';
  return 'bench harness';
}
