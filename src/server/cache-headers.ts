import type { FastifyReply } from 'fastify';
import type { Lookup } from '../engine/tiered-cache.js';

/**
 * The headers every edge response carries: where the answer came from and how old it is. Only
 * these four: each header is bytes on every response (the tier is in the JSON APIs' bodies).
 */
export function setCacheHeaders(reply: FastifyReply, region: string, lookup: Lookup, alwaysEchoId: boolean): void {
  // The request id only when it can be matched with something (see app.ts).
  if (alwaysEchoId || reply.request.headers['x-request-id'] !== undefined) reply.header('x-request-id', reply.request.id);
  reply.header('x-cache', lookup.state);
  reply.header('x-cache-region', region);
  if (lookup.version !== undefined) reply.header('x-cache-version', String(lookup.version));
  reply.header('age', String(Math.floor(lookup.ageMs / 1000)));
}
