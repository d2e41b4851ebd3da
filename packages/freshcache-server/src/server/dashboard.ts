import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where `npm run build` puts the dashboard: dist/dashboard of the package (two folders up from packages/freshcache-server/src/server and from dist/server). */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>freshcache</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto;">
<h1>freshcache</h1>
<p>The dashboard is not built. Run <code>npm run build</code> (or <code>npm start</code>, which builds it) and reload.</p>
<p>The API is up: <a href="/docs">API docs</a> · <a href="/api/metrics">metrics</a> · <a href="/api/regions">regions</a>.</p>
</body></html>`;

/**
 * Serves the built dashboard: `/` is its index.html, read on every request and never cached, and
 * `/assets/*` its hash-named files, cached for a year. Both are looked up per request, so a
 * build made while the server runs is served at once; before any build, `/` says how to make
 * one. Nothing else is claimed: a catch-all route would also catch paths the router refuses
 * (a key too long for the router is a 400, not a missing file).
 */
export async function serveDashboard(app: FastifyInstance, dir: string): Promise<void> {
  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    const page = await readFile(join(dir, 'index.html'), 'utf8').catch(() => NOT_BUILT);
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(page);
  });
  await app.register(fastifyStatic, {
    root: join(dir, 'assets'),
    prefix: '/assets/',
    cacheControl: false,
    schemaHide: true,
    // The folder exists only once the dashboard is built.
    suppressWarning: true,
    setHeaders: (reply) => {
      reply.header('cache-control', 'public, max-age=31536000, immutable');
    },
  });
}
