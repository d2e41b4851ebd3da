/**
 * Holds one library in its own V8 isolate and runs it when told. Every library but cache-manager
 * runs lru-cache's `get` underneath; in one isolate they would share its JIT feedback, and the
 * number of one would depend on which others ran beside it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runPasses } from '../lib/measure-ops.js';
import { getHitSubjects } from './get-hit-subjects.js';

export type GetHitRequest = { run: number } | { close: true };
export type GetHitReply = { ready: true } | { ops: number; ms: number } | { closed: true } | { error: string };

const port = parentPort!;
const { name, redisUrl } = workerData as { name: string; redisUrl?: string };
const make = getHitSubjects[name];
if (!make) throw new Error(`no get-hit subject named ${name}`);
const subject = await make({ redisUrl });
port.on('message', (request: GetHitRequest) => {
  const reply = (message: GetHitReply) => port.postMessage(message);
  if ('close' in request) {
    void subject.close().then(() => reply({ closed: true }));
    return;
  }
  runPasses(subject.pass, request.run).then(reply, (error: unknown) => reply({ error: String(error) }));
});
port.postMessage({ ready: true } satisfies GetHitReply);
