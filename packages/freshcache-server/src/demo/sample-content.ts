import type { ContentInput } from './content-store.js';

const TOPICS = ['news', 'sport', 'tech', 'culture', 'science'];

/** Twenty articles across five tags: enough for tag purges and a Zipf workload to mean something. */
export const SAMPLE_CONTENT: readonly ContentInput[] = Array.from({ length: 20 }, (_, i) => {
  const n = i + 1;
  const topic = TOPICS[i % TOPICS.length]!;
  return {
    slug: `article-${n}`,
    title: `Article ${n}: the ${topic} story`,
    body: `Body of article ${n}. Edit it and watch every region turn fresh after its delay.`,
    tags: [topic, n <= 5 ? 'front-page' : 'archive'],
  };
});
