import type { FastifyPluginAsync } from 'fastify';
import { FreshcacheError, type Lookup } from 'freshcache';
import { installOutbox } from 'freshcache/postgres';
import type { EdgeRoute, ServerApp } from '../server/app.js';
import type { AppContext, Region, Topology, TopologyApp } from '../topology/topology.js';
import { CONTENT_CAPTURE_RULES, CONTENT_TABLES } from './content-rules.js';
import { contentEdgeRoute, contentKey, contentListTags, contentRoutes, CONTENT_KEY, CONTENT_LIST_KEY, CONTENT_LIST_LIMIT } from './content-routes.js';
import { CONTENT_SCHEMA } from './content-schema.js';
import type { ContentList, ContentRecord, ContentStore } from './content-store.js';
import { SqlContentStore } from './content-store.js';
import { SAMPLE_CONTENT } from './sample-content.js';

/**
 * The content demo as an app on top of freshcache: a `content` table with its capture rule and
 * sample articles (the fleet half, given to `Topology.create({ apps })`), and its CRUD routes and
 * edge read (the server half, given to `buildApp({ apps })`). Make one per topology.
 */
export class DemoApp implements TopologyApp, ServerApp {
  readonly name = 'content';
  readonly captureRules = CONTENT_CAPTURE_RULES;
  readonly edgeRoutes: readonly EdgeRoute[] = [contentEdgeRoute];
  readonly tags = [{ name: 'content', description: 'Content at the origin (the demo app)' }];
  readonly routes: FastifyPluginAsync<{ topology: Topology }> = contentRoutes(() => this.store);
  private installed: ContentStore | undefined;

  /** The app's content at the origin; there once the topology installed the app. */
  get store(): ContentStore {
    if (!this.installed) throw new Error('the demo app is not installed: give it to Topology.create({ apps }) first');
    return this.installed;
  }

  /** For tests that count the origin's reads or make it fail: replaces the store the app reads. */
  set store(store: ContentStore) {
    this.installed = store;
  }

  async install({ sql, config }: AppContext): Promise<void> {
    if (this.installed) throw new Error('a DemoApp serves one topology: make one per Topology.create');
    await sql.query(CONTENT_SCHEMA);
    if (config.roles.relay && config.capture.kind === 'outbox') await installOutbox(sql, CONTENT_TABLES);
    this.installed = new SqlContentStore(sql);
  }

  async seed({ logger }: AppContext): Promise<void> {
    const store = this.store;
    const { items } = await store.list({ limit: 1 });
    if (items.length > 0) return;
    for (const input of SAMPLE_CONTENT) await store.create(input);
    logger.info({ records: SAMPLE_CONTENT.length }, 'seeded the origin with sample content');
  }

  onRegion(region: Region): void {
    region.cache.define<ContentRecord>(CONTENT_KEY, {
      load: async ({ id }, context) => {
        const record = Number.isSafeInteger(Number(id)) ? await this.store.get(Number(id)) : undefined;
        if (!record) throw new FreshcacheError('not_found', `no content with id ${id}`);
        context.version = record.version;
        context.tags = record.tags;
        return record;
      },
    });
    // A tag's list view, one query. No version: a list changes when an article leaves it, which
    // no version of the articles it still holds would tell.
    region.cache.define<ContentList>(CONTENT_LIST_KEY, {
      load: async ({ tag }, context) => {
        const tagName = String(tag);
        const page = await this.store.list({ tag: tagName, limit: CONTENT_LIST_LIMIT });
        context.tags = contentListTags(tagName);
        return { tag: tagName, items: page.items.map(({ body: _body, ...summary }) => summary), more: page.cursor !== undefined };
      },
    });
  }
}

/** Reads one content record through a region's cache (L1 → L2 → origin). */
export function readContent(region: Region, id: number): Promise<Lookup<ContentRecord>> {
  return region.cache.lookupOrLoad<ContentRecord>(contentKey(id));
}
