import { createCache, FreshcacheError } from 'freshcache';
import type { TieredCache } from 'freshcache';
import { redisStore, redisStreamLog } from 'freshcache/redis';
import type pg from 'pg';

export interface User {
  id: number;
  org_id: number;
  name: string;
  email: string;
}

export interface OrgMembers {
  org: { id: number; name: string };
  users: Omit<User, 'org_id'>[];
}

export interface UsersCacheOptions {
  db: pg.Pool;
  redisUrl: string;
  /** The region this instance serves: instances of one region share its Redis L2. */
  region: string;
  /** The cache follows the invalidation log: until then it may miss what changed meanwhile. */
  onReady?: () => void;
  onError?: (error: unknown, context: string) => void;
}

/**
 * The service's cache: L1 in this process, L2 in the region's Redis, and the deployment's
 * invalidation log, which the relay fills from the database's changes (freshcache.json's rules).
 * The keys and tags the loaders set are the ones those rules name.
 */
export function createUsersCache({ db, redisUrl, region, onReady, onError }: UsersCacheOptions): TieredCache {
  const cache = createCache({
    l1: { maxEntries: 10_000 },
    l2: redisStore({ url: redisUrl, namespace: `freshcache:l2:${region}:` }),
    invalidations: { log: redisStreamLog({ url: redisUrl }), region, onReady, onError },
    defaultTtlMs: 5 * 60_000,
  });

  // Invalidated by key: the rule { table: "users", key: "user:{id}" } on every change of the row.
  // The row's version (a column a trigger bumps on every write, the rule's "version") dates the
  // value: the service answers it as X-Cache-Version, which `freshcache load` checks.
  cache.define<User>('user:{id}', {
    load: async ({ id }, context) => {
      const { rows } = await db.query<User & { version: string }>('SELECT id, org_id, name, email, version FROM users WHERE id = $1', [id]);
      if (!rows[0]) throw new FreshcacheError('not_found', `no user ${id}`);
      const { version, ...user } = rows[0];
      context.version = Number(version);
      return user;
    },
  });

  // An org's members. A user joining, leaving or moving changes the lists of the orgs in its old
  // and new row: the users rule tags them org:{org_id}:members. A rename of the org changes the
  // key itself (the orgs rule), and a TRUNCATE users purges the tag "users" (onTruncate).
  cache.define<OrgMembers>('org:{id}:users', {
    load: async ({ id }, context) => {
      const org = await db.query<OrgMembers['org']>('SELECT id, name FROM orgs WHERE id = $1', [id]);
      if (!org.rows[0]) throw new FreshcacheError('not_found', `no org ${id}`);
      const users = await db.query<OrgMembers['users'][number]>('SELECT id, name, email FROM users WHERE org_id = $1 ORDER BY id', [id]);
      context.tags = [`org:${id}:members`, 'users'];
      return { org: org.rows[0], users: users.rows };
    },
  });

  return cache;
}
