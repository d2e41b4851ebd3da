import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where `npm run build` puts the dashboard: dist/dashboard of the package (two folders up from src/server and from dist/server). */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>freshcache</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto;">
<h1>freshcache</h1>
<p>The dashboard is not built. Run <code>npm run build</code> (or <code>npm start</code>, which builds it) and reload.</p>
<p>The API is up: <a href="/docs">API docs</a> · <a href="/api/metrics">metrics</a> · <a href="/api/regions">regions</a>.</p>
</body></html>`;

/**
 * Serves the built dashboard at `/`: its index.html (never cached, so a new build shows at once)
 * and its assets (content-hashed names, so cached for a year). Files are looked up per request,
 * so a rebuild is served without a restart; a path that is neither a route nor a file still gets
 * the API's JSON 404. Without a build at start, `/` says how to make one.
 */
export async function serveDashboard(app: FastifyInstance, dir: string): Promise<void> {
  if (!existsSync(`${dir}/index.html`)) {
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(NOT_BUILT));
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    cacheControl: false,
    schemaHide: true,
    setHeaders: (reply, path) => {
      reply.header('cache-control', /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
