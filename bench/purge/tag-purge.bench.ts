import { performance } from 'node:perf_hooks';
import { createCache } from '../../packages/freshcache/src/index.js';
import { formatCount, formatMiB, formatMs, verdict } from '../lib/format.js';
import type { Progress } from '../lib/progress.js';
import type { Row } from '../lib/row.js';

const KEYS = 1_000_000;
const READS_AFTER = 1_000;
const TARGET_PURGE_MS = 10;

/** Heap in use once garbage is gone (needs --expose-gc; otherwise includes garbage). */
function heapUsed(): number {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * Tag purge: a million entries share the tag `all`; purging it must not walk them. Times the purge,
 * the first read after it and a thousand more, and shows the heap before and after.
 */
export async function tagPurge(progress: Progress): Promise<Row[]> {
  const heapBefore = heapUsed();
  const cache = createCache({ l1: { maxEntries: 1_100_000, maxBytes: 2 * 1024 ** 3 } });
  const fillStarted = performance.now();
  for (let i = 0; i < KEYS; i++) {
    await cache.set(`item:${i}`, { id: i, name: `Item ${i}` }, { tags: [`t:${i % 10}`, 'all'] });
    if (i % 50_000 === 0) progress.update(0.9 * (i / KEYS), `set ${formatCount(i)} of ${formatCount(KEYS)} keys`);
  }
  const fillMs = performance.now() - fillStarted;
  const entriesFilled = cache.l1.entries;
  if (entriesFilled !== KEYS) throw new Error(`L1 holds ${entriesFilled} entries, expected ${KEYS}: was something evicted?`);
  // A read that hits before the purge, so the read after it is known to change answer.
  if ((await cache.get('item:0')) === undefined) throw new Error('item:0 missing before the purge');
  const heapFilled = heapUsed();

  progress.update(0.92, 'purging tag "all"');
  const purgeStarted = performance.now();
  await cache.invalidate({ tags: ['all'] });
  const purgeMs = performance.now() - purgeStarted;

  const firstStarted = performance.now();
  const first = await cache.get('item:1');
  const firstMs = performance.now() - firstStarted;

  progress.update(0.95, `reading ${formatCount(READS_AFTER)} keys after the purge`);
  let stillServed = first === undefined ? 0 : 1;
  const readsStarted = performance.now();
  for (let i = 0; i < READS_AFTER; i++) {
    // Spread over the whole key space, skipping the two keys read already.
    if ((await cache.get(`item:${2 + i * 997}`)) !== undefined) stillServed++;
  }
  const readsMs = performance.now() - readsStarted;
  const entriesAfter = cache.l1.entries;
  const heapAfter = heapUsed();
  await cache.close();
  if (stillServed > 0) throw new Error(`${stillServed} reads after the purge still returned a value`);

  return [
    { step: `fill: set() ${formatCount(KEYS)} tagged keys`, time: formatMs(fillMs), detail: `${formatCount(KEYS / (fillMs / 1000))} sets/s`, target: '—', met: '' },
    {
      step: "invalidate({ tags: ['all'] })",
      time: formatMs(purgeMs),
      detail: `matches ${formatCount(KEYS)} entries`,
      target: `≤ ${TARGET_PURGE_MS} ms`,
      met: verdict(purgeMs <= TARGET_PURGE_MS),
    },
    { step: 'first get() after the purge', time: formatMs(firstMs), detail: 'miss, as it must be', target: '—', met: '' },
    {
      step: `${formatCount(READS_AFTER)} get() after the purge`,
      time: formatMs(readsMs),
      detail: `${formatMs(readsMs / READS_AFTER)} per read, all misses`,
      target: '—',
      met: '',
    },
    {
      step: 'heap used (after GC)',
      time: '—',
      detail: `before fill ${formatMiB(heapBefore)}, filled ${formatMiB(heapFilled)}, after purge + reads ${formatMiB(heapAfter)}`,
      target: '—',
      met: '',
    },
    {
      step: 'L1 entries',
      time: '—',
      detail: `filled ${formatCount(entriesFilled)}, after purge + reads ${formatCount(entriesAfter)} (purged entries are reclaimed when read or evicted)`,
      target: '—',
      met: '',
    },
  ];
}
