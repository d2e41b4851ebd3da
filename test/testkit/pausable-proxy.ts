import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';

export interface PausableProxy {
  /** Where clients connect instead of the target. */
  host: string;
  port: number;
  /**
   * Holds every byte and every close in both directions, on the connections open now and on
   * those opened later, until `resume()`: a client sees a silent but open socket (a partition),
   * and what the target sent meanwhile (a reply, its death) reaches it only after `resume()`.
   */
  pause(): void;
  /** Delivers what was held, in order, and lets bytes flow again. */
  resume(): void;
  /** The local ports of its connections to the target: how the target names them (`CLIENT LIST` addr). */
  upstreamPorts(): number[];
  close(): Promise<void>;
}

/**
 * A TCP proxy on a free loopback port to `target`, one upstream connection per client
 * connection, that a test can pause: a deterministic network partition of one client, where
 * pausing the server (SIGSTOP) would cut off every client at once.
 */
export async function startPausableProxy(target: { host: string; port: number }): Promise<PausableProxy> {
  let paused = false;
  /** What arrived while paused, to run in order on resume. */
  const held: (() => void)[] = [];
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const whenFlowing = (action: () => void) => (paused ? held.push(action) : action());

  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      // Reading stops while paused (socket.pause), so the kernel holds the bytes; an event
      // already on its way is held here.
      if (paused) from.pause();
      from.on('data', (chunk: Buffer) => whenFlowing(() => to.write(chunk)));
      from.on('end', () => whenFlowing(() => to.end()));
      from.on('error', () => whenFlowing(() => to.destroy()));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };

  return {
    host: '127.0.0.1',
    port,
    pause: () => {
      paused = true;
      for (const { client, upstream } of pairs) {
        client.pause();
        upstream.pause();
      }
    },
    resume: () => {
      paused = false;
      for (const action of held.splice(0)) action();
      for (const { client, upstream } of pairs) {
        client.resume();
        upstream.resume();
      }
    },
    upstreamPorts: () => [...pairs].map(({ upstream }) => upstream.localPort).filter((p): p is number => p !== undefined),
    close: async () => {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
