/** One server-sent event: its name (`message` when the server gave none) and its data lines joined. */
export interface ServerSentEvent {
  name: string;
  data: string;
}

/**
 * Reads server-sent events off a response body (`/api/events`), one at a time. Blocks without
 * data (`retry:`, keep-alive comments) are skipped. The tests, the benchmarks and the tools that
 * follow a freshcache server all read its stream through this one parser.
 */
export async function* serverSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const lines = buffer.slice(0, end).split('\n');
      buffer = buffer.slice(end + 2);
      const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
      if (data.length === 0) continue;
      yield { name: lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message', data: data.join('\n') };
    }
  }
}
