import { contentRecordSchema } from '../validation.js';
import { edgeRoute } from '../edge-route.js';

/** The demo's edge read: content through a region's cache, its origin read being Region.readContent. */
export const contentEdgeRoute = edgeRoute({
  path: '/edge/:region/content/:id',
  key: 'content:{id}',
  params: { id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
  // Looked up per request, not bound here: tests wrap a region's readContent to count reads.
  read: (region, { id }) => region.readContent(id as number),
  summary: "Read content through one region's cache (L1 → L2 → origin)",
  response: contentRecordSchema,
});
