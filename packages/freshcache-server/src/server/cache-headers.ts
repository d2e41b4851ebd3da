import type { FastifyReply } from 'fastify';
import type { Lookup } from 'freshcache';

/**
 * The headers every edge response carries: where the answer came from and how old it is. Only
 * these: each header is bytes on every response (the tier is in the JSON APIs' bodies). The
 * Fastify routes and the hit path (edge-hit-path.ts) both take them from here, so the two
 * answers cannot drift apart. `requestId` is given only when it can be matched with something
 * (see app.ts).
 *
 * As flat name, value pairs appended to `into`: the hit path hands them to `writeHead` in its
 * array form, without building an object per response.
 */
export function pushCacheHeaders(into: string[], region: string, lookup: Lookup, requestId: string | undefined): string[] {
  into.push('x-cache', lookup.state, 'x-cache-region', region, 'age', String(Math.floor(lookup.ageMs / 1000)));
  if (lookup.version !== undefined) into.push('x-cache-version', String(lookup.version));
  if (requestId !== undefined) into.push('x-request-id', requestId);
  return into;
}

/** The same headers as an object, for Fastify's `reply.headers`. */
export function cacheHeaders(region: string, lookup: Lookup, requestId: string | undefined): Record<string, string> {
  const pairs = pushCacheHeaders([], region, lookup, requestId);
  const headers: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i += 2) headers[pairs[i]!] = pairs[i + 1]!;
  return headers;
}

export function setCacheHeaders(reply: FastifyReply, region: string, lookup: Lookup, alwaysEchoId: boolean): void {
  const traced = alwaysEchoId || reply.request.headers['x-request-id'] !== undefined;
  reply.headers(cacheHeaders(region, lookup, traced ? reply.request.id : undefined));
}
