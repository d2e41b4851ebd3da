/**
 * What every server process of the HTTP benchmark answers on its IPC channel: the parent asks for
 * a CPU profile around one load window, for the server's own numbers, and for the end.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import type { Profiler } from 'node:inspector';
import { fileURLToPath } from 'node:url';
import { summariseProfile } from '../../lib/cpu-profile.js';
import type { ProfileSummary } from '../../lib/cpu-profile.js';

export type ToChild = { type: 'profile-start' } | { type: 'profile-stop'; saveTo: string } | { type: 'stats' } | { type: 'close' };
export type FromChild =
  | { type: 'listening'; port: number; body: string }
  | { type: 'profiling' }
  | { type: 'profile'; summary: ProfileSummary }
  | { type: 'stats'; stats: unknown };

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** 100 µs: a hit takes tens of µs, and the default 1 ms sampling would see few of its functions. */
const SAMPLING_INTERVAL_US = 100;

export function send(message: FromChild): void {
  process.send!(message);
}

export function answerParent({ stats, close }: { stats?: () => unknown; close: () => Promise<void> }): void {
  let session: Session | undefined;
  process.on('message', (message: ToChild) => {
    void (async () => {
      if (message.type === 'profile-start') {
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
        await session.post('Profiler.start');
        send({ type: 'profiling' });
      } else if (message.type === 'profile-stop') {
        const { profile } = (await session!.post('Profiler.stop')) as Profiler.StopReturnType;
        session!.disconnect();
        // The whole profile too, for Chrome DevTools or `node --cpu-prof`-style tools.
        await writeFile(message.saveTo, JSON.stringify(profile));
        send({ type: 'profile', summary: summariseProfile(profile, ROOT) });
      } else if (message.type === 'stats') {
        send({ type: 'stats', stats: stats?.() ?? null });
      } else if (message.type === 'close') {
        await close();
        process.exit(0);
      }
    })();
  });
  // The parent died: do not keep a server running.
  process.on('disconnect', () => process.exit(0));
}
