import { serverSentEvents } from '../../packages/freshcache-server/src/tools/server-sent-events.js';

/** A server's `/api/events` stream, followed until closed. */
export interface FollowedEvents {
  close(): Promise<void>;
}

/**
 * Follows a freshcache server's server-sent events (`/api/events`), calling `onEvent` with each
 * event's name and parsed data: how the benchmark hears another process apply an invalidation.
 */
export async function followEvents(url: string, onEvent: (name: string, data: unknown) => void): Promise<FollowedEvents> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  if (!response.ok || !response.body) throw new Error(`GET ${url}: ${response.status}`);
  const reading = (async () => {
    for await (const { name, data } of serverSentEvents(response.body as AsyncIterable<Uint8Array>)) onEvent(name, JSON.parse(data));
  })().catch((error: unknown) => {
    // Closing aborts the read; anything else ending the stream is worth a line on stderr.
    if (!controller.signal.aborted) process.stderr.write(`[propagation] ${url} ended: ${String(error)}\n`);
  });
  return {
    async close() {
      controller.abort();
      await reading;
    },
  };
}
