import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** How long, and how much of an unread body, the server reads and discards after an early answer. */
export const LINGER = { timeoutMs: 10_000, maxBytes: 128 * 1024 * 1024 } as const;

/**
 * nginx's lingering close, for an answer sent before the request body was read (a 413): Node
 * closes the socket as soon as the answer is written, and the client, still sending, then gets a
 * reset (EPIPE, ECONNRESET) that may destroy the answer before it reads it. Instead the server
 * half-closes (FIN after the answer), reads and discards the rest of the body, and closes once
 * the body is in, or after `timeoutMs` or `maxBytes`, whichever comes first.
 *
 * Call it before the answer is sent. Node's HTTP server closes a `Connection: close` socket with
 * `socket.destroySoon()` once the response is finished: this replaces that one call for this
 * one socket, and reads the body itself (so that Node does not dump it unseen).
 */
export function lingerBeforeClose(request: IncomingMessage, limits: { timeoutMs: number; maxBytes: number } = LINGER): void {
  const socket = request.socket as Socket & { destroySoon?: () => void };
  if (request.complete || socket.destroyed || typeof socket.destroySoon !== 'function') return;
  let answered = false;
  let discarded = 0;
  const close = () => {
    if (answered) socket.destroy();
  };
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limits.maxBytes) close();
  });
  request.once('end', close);
  request.resume();
  socket.destroySoon = () => {
    answered = true;
    if (socket.writable) socket.end();
    if (request.complete || discarded > limits.maxBytes) return close();
    const timer = setTimeout(close, limits.timeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.once('end', close); // the client gave up sending
  };
}
