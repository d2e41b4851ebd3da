import type { Entry } from '../seams/entry.js';
import type { ScannedEntry } from '../seams/store.js';
import type { CacheParts } from './cache-parts.js';
import type { Described, ExplorerPage, LocalEntry, MatchResult } from './cache-types.js';
import { FreshcacheError } from './errors.js';
import type { InvalidationTargets } from './generations.js';
import { scanInKeyOrder } from './key-order-scan.js';
import type { ReadPath } from './read-path.js';

/** Keys the explorer examines per call, so a filter that matches nothing cannot stall the process. */
const SCAN_BUDGET = 5000;
/** Keys a dry run examines per call; past it, the count it gives is a lower bound. */
const MATCH_BUDGET = 100_000;
/** Keys asked of a store per page by a dry run. */
const MATCH_PAGE = 1000;

/**
 * The key explorer and the dry run: looks at what the tiers hold, as this node sees it, without
 * changing anything (no use counted, nothing reclaimed).
 */
export class KeyExplorer {
  constructor(
    private readonly parts: CacheParts,
    private readonly read: ReadPath,
  ) {}

  /**
   * Keys whose entries an invalidation would hit now (a dry run: nothing changes). Named keys are
   * looked up; prefixes are walked in L2 with the store's own prefix filter; a tag (or `all`)
   * walks every key. Each L2 key is read once, by the walk itself, and at most MATCH_BUDGET L2
   * keys (`budget`) are examined: past that the answer is `partial`. L1 is in-process and
   * bounded, so it is always read whole.
   */
  async matching(targets: InvalidationTargets, limit = 1000, budget = MATCH_BUDGET): Promise<MatchResult> {
    const { l1, l2 } = this.parts;
    const found = new Set<string>();
    const named = new Set(targets.keys ?? []);
    const tags = new Set(targets.tags ?? []);
    const prefixes = targets.prefixes ?? [];
    const hits = (key: string, entry: Entry) =>
      targets.all === true || named.has(key) || prefixes.some((p) => key.startsWith(p)) || entry.tags.some((t) => tags.has(t));

    const lookups = await Promise.all([...named].map(async (key) => ({ key, entry: this.read.liveInL1(key) ?? (await l2?.get(key)) })));
    for (const { key, entry } of lookups) if (entry) found.add(key);

    const walks = targets.all || tags.size > 0 ? [''] : outermost(prefixes);
    if (walks.length === 0) return { ...firstKeys(found, limit), partial: false };
    for (const key of l1.keys()) {
      const entry = this.read.liveInL1(key);
      if (entry && hits(key, entry)) found.add(key);
    }
    let examined = 0;
    for (const prefix of l2 ? walks : []) {
      let cursor: string | undefined;
      do {
        if (examined >= budget) return { ...firstKeys(found, limit), partial: true };
        // An in-process store walks all its keys on each call: ask it for the whole budget at once.
        const ask = Math.min(l2!.capabilities.inProcess ? budget : MATCH_PAGE, budget - examined);
        const page = await l2!.scan({ prefix, cursor, limit: ask });
        examined += Math.max(ask, page.entries.length);
        // A key L1 holds was judged by its L1 entry above: this node's view of it.
        for (const { key, entry } of page.entries) if (this.read.liveInL1(key) === undefined && hits(key, entry)) found.add(key);
        cursor = page.cursor;
      } while (cursor !== undefined);
    }
    return { ...firstKeys(found, limit), partial: false };
  }

  /**
   * A page of the key explorer: the entries whose key starts with `prefix` (and that carry
   * `tag`). It walks L2, showing each key through this node's L1 entry when it has one, then,
   * unless L2 is shared, the keys only L1 holds. A shared L2 is the region's cache; what only
   * one node's L1 still holds (Redis evicted it) is that node's leftover, and finding it would
   * cost a read of L2 per L1 key. At most `budget` keys (SCAN_BUDGET) are examined per call, so
   * a page can come back short, even empty, with a cursor to go on. The walk keeps Store.scan's
   * guarantees: a key held throughout is listed at least once, in no particular order.
   */
  async scan(options: { prefix?: string; tag?: string; cursor?: string; limit: number; budget?: number }): Promise<ExplorerPage> {
    const { l1, l2, clock, dating } = this.parts;
    const { prefix, tag, limit, budget = SCAN_BUDGET } = options;
    let { tier, position } = explorerPosition(options.cursor, l2 !== undefined);
    const items: Described[] = [];
    let examined = 0;
    let examinedTaken = 0;
    let step = limit;
    const page = (stoppedBy: ExplorerPage['stoppedBy']): ExplorerPage => {
      items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return stoppedBy === 'end' ? { items, examined, stoppedBy } : { items, cursor: `${tier}:${position ?? ''}`, examined, stoppedBy };
    };
    while (items.length < limit && examined < budget) {
      const need = limit - items.length;
      const ask = Math.min(step, budget - examined);
      const options = { prefix, cursor: position, limit: ask };
      const found = tier === 'l2' ? await l2!.scan(options) : scanInKeyOrder(l1.keys(), (key) => l1.peek(key), options, clock.now());
      examined += Math.max(ask, found.entries.length);
      const batch = await this.explorerItems(tier, found.entries, tag);
      if (items.length + batch.length > limit && ask > need) {
        // The step went further than the page can hold: try again from the same place, shorter.
        step = Math.max(need, Math.floor((ask * need) / batch.length));
        continue;
      }
      items.push(...batch);
      examinedTaken += Math.max(ask, found.entries.length);
      step = nextStep({ found: items.length, examined: examinedTaken, need: limit - items.length, last: ask, inProcess: tier === 'l1' || l2!.capabilities.inProcess, filtered: tag !== undefined });
      position = found.cursor;
      if (position !== undefined) continue;
      if (tier === 'l1' || dating.shared) return page('end');
      tier = 'l1';
    }
    return page(items.length >= limit ? 'limit' : 'budget');
  }

  /** An entry's details for the key explorer: the entry, which tier holds it, and its state. */
  async describe(key: string): Promise<Described | undefined> {
    const inL1 = this.read.liveInL1(key);
    if (inL1) return this.describeL1(key, inL1);
    const stored = this.parts.l2 === undefined ? undefined : await this.parts.l2.get(key);
    return stored === undefined ? undefined : this.describeL2(key, stored);
  }

  /** What the explorer lists of a page of `tier`'s entries: those that carry `tag`, once across both tiers. */
  private async explorerItems(tier: 'l1' | 'l2', entries: ScannedEntry[], tag: string | undefined): Promise<Described[]> {
    const { l2 } = this.parts;
    if (tier === 'l2') return entries.map(({ key, entry }) => this.describeHeld(key, entry)).filter((item) => tag === undefined || item.entry.tags.includes(tag));
    const candidates = entries.filter(({ entry }) => tag === undefined || entry.tags.includes(tag));
    // A key that L2 holds was listed by the L2 walk.
    const inL2 = l2 ? await Promise.all(candidates.map(({ key }) => l2.get(key))) : [];
    return candidates.filter((_, i) => inL2[i] === undefined).map(({ key, entry }) => this.describeL1(key, entry as LocalEntry));
  }

  /** A key found in L2, shown as this node sees it: through its L1 entry when it holds one. */
  private describeHeld(key: string, stored: Entry): Described {
    const inL1 = this.read.liveInL1(key);
    return inL1 ? this.describeL1(key, inL1) : this.describeL2(key, stored);
  }

  private describeL1(key: string, entry: LocalEntry): Described {
    return { key, entry, tier: 'l1', state: this.read.verdict(key, entry, this.parts.clock.now(), entry.generation) };
  }

  /** An L2 entry with its generation shown in this cache's sequence (-1: older than this cache can judge). */
  private describeL2(key: string, stored: Entry): Described {
    const readAt = this.parts.dating.readAt(stored);
    if (readAt === undefined) return { key, entry: { ...stored, generation: -1 }, tier: 'l2', state: 'invalid' };
    return { key, entry: { ...stored, generation: readAt }, tier: 'l2', state: this.read.verdict(key, stored, this.parts.clock.now(), readAt) };
  }
}

/**
 * How many keys the explorer's next store call examines: enough to find the `need` items still
 * wanted at the rate found so far. While nothing has matched, an in-process store is asked for the
 * rest of the budget at once (each call walks its keys), and Redis for four times more each step.
 * A step that finds more than the page holds is read again shorter, so a remote store without a
 * tag filter is always asked for just the items wanted: its reads are not wasted.
 */
function nextStep(s: { found: number; examined: number; need: number; last: number; inProcess: boolean; filtered: boolean }): number {
  const { found, examined, need, last, inProcess, filtered } = s;
  if (need <= 0 || (!inProcess && !filtered)) return Math.max(1, need);
  if (found === 0) return inProcess ? Number.MAX_SAFE_INTEGER : last * 4;
  return Math.max(need, Math.ceil((need * examined) / found));
}

/** The prefixes that no other one in the list starts: walking them covers every key of the others. */
function outermost(prefixes: readonly string[]): string[] {
  const kept: string[] = [];
  for (const prefix of [...prefixes].sort()) if (!kept.some((k) => prefix.startsWith(k))) kept.push(prefix);
  return kept;
}

function firstKeys(found: Set<string>, limit: number): { keys: string[]; total: number } {
  return { keys: [...found].sort().slice(0, limit), total: found.size };
}

/**
 * Where an explorer page resumes. Its cursor is the tier being walked and that tier's own store
 * cursor (`l2:<cursor>`, `l1:<cursor>`); without one the walk starts with L2, or L1 alone.
 */
function explorerPosition(cursor: string | undefined, hasL2: boolean): { tier: 'l1' | 'l2'; position: string | undefined } {
  if (cursor === undefined) return { tier: hasL2 ? 'l2' : 'l1', position: undefined };
  const tier = cursor.slice(0, 2);
  if (cursor[2] !== ':' || (tier !== 'l1' && tier !== 'l2')) throw new FreshcacheError('bad_request', 'cursor is not one the key explorer handed out');
  const position = cursor.slice(3) || undefined;
  // A cursor from before L2 was configured away starts L1's walk.
  return tier === 'l2' && !hasL2 ? { tier: 'l1', position: undefined } : { tier, position };
}
