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
  const body = response.body as AsyncIterable<Uint8Array>;
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (name && data) onEvent(name, JSON.parse(data));
      }
    }
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
