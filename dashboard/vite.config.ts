import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Built into the server package's dist/ next to the server, which serves it at `/` (packages/freshcache-server/src/server/dashboard.ts).
// `npm run dev -w dashboard` serves it with hot reload and sends API calls to a server on :3000.
const api = process.env.FRESHCACHE_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [react()],
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../packages/freshcache-server/dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: Object.fromEntries(['/api', '/edge', '/metrics', '/health', '/ready', '/docs'].map((path) => [path, api])),
  },
});
