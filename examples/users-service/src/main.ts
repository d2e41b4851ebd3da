import pg from 'pg';
import { buildApp } from './app.js';
import { createUsersCache } from './cache.js';

/** Configuration from the environment, as the service would get it in a container. */
const env = {
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/users_service',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  region: process.env.REGION ?? 'eu-west',
  port: Number(process.env.PORT ?? 3001),
  host: process.env.HOST ?? '127.0.0.1',
};

const db = new pg.Pool({ connectionString: env.databaseUrl });
let following = false;
const cache = createUsersCache({
  db,
  redisUrl: env.redisUrl,
  region: env.region,
  onReady: () => {
    following = true;
    console.log(`users-service follows the invalidation log (region ${env.region})`);
  },
  // Redis down: the cache retries on its own; say so, once per failure.
  onError: (error, context) => console.error(`users-service: ${context}: ${(error as Error).message}`),
});
const app = buildApp({ cache, following: () => following });

await app.listen({ port: env.port, host: env.host });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : env.port;
console.log(`users-service listening at http://${env.host}:${port}`);

// Stop taking requests, then stop following the log and close the connections.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    await app.close();
    await cache.close();
    await db.end();
    process.exit(0);
  });
}
