import type { RedisNode } from '../../api/types';

export const SLOTS = 16_384;

/** Distinct on the dark theme; a cluster of more primaries reuses them in turn. */
const COLOURS = ['#4fb3ff', '#ffa657', '#c297ff', '#3fb950', '#ff7b72', '#f2cc60', '#56d4dd', '#db61a2'];

export interface Primary {
  node: RedisNode;
  colour: string;
  slotCount: number;
  replicas: (RedisNode & { lagBytes: number | null })[];
}

export interface SlotLayout {
  /** The primaries serving slots, in the order of their first slot, each with its colour and replicas. */
  primaries: Primary[];
  /** Every slot range, in order: a primary's (its index in `primaries`), or null where no primary serves it. */
  segments: { first: number; last: number; primary: number | null }[];
  /** Primaries serving no slot (an added node before a rebalance, a failed one), replicas without a known primary. */
  others: RedisNode[];
}

export const countSlots = (ranges: readonly [number, number][]) => ranges.reduce((sum, [first, last]) => sum + last - first + 1, 0);

/**
 * The ring of a Redis Cluster from `GET /api/nodes`: each primary's ranges in its colour, and the
 * gaps. A standalone server (no slots, no cluster) is drawn owning every slot: it holds every key.
 */
export function slotLayout(nodes: readonly RedisNode[], cluster: boolean): SlotLayout {
  const masters = nodes.filter((n) => n.role === 'master');
  const serving = cluster ? masters.filter((n) => n.slots.length > 0) : masters.slice(0, 1);
  const ranges = (n: RedisNode): [number, number][] => (cluster ? n.slots : [[0, SLOTS - 1]]);
  const ordered = [...serving].sort((a, b) => Math.min(...ranges(a).map(([first]) => first)) - Math.min(...ranges(b).map(([first]) => first)));
  const primaries: Primary[] = ordered.map((node, index) => ({
    node,
    colour: COLOURS[index % COLOURS.length]!,
    slotCount: countSlots(ranges(node)),
    replicas: nodes
      .filter((r) => r.role === 'replica' && r.masterId === node.id)
      .map((r) => ({ ...r, lagBytes: node.replicationOffset === null || r.replicationOffset === null ? null : Math.max(0, node.replicationOffset - r.replicationOffset) })),
  }));
  const owned = primaries.flatMap((p, index) => ranges(p.node).map(([first, last]) => ({ first, last, primary: index as number | null }))).sort((a, b) => a.first - b.first);
  const segments: SlotLayout['segments'] = [];
  let next = 0;
  for (const range of owned) {
    if (range.first > next) segments.push({ first: next, last: range.first - 1, primary: null });
    segments.push(range);
    next = Math.max(next, range.last + 1);
  }
  if (next < SLOTS) segments.push({ first: next, last: SLOTS - 1, primary: null });
  const shown = new Set([...primaries.map((p) => p.node.id), ...primaries.flatMap((p) => p.replicas.map((r) => r.id))]);
  return { primaries, segments, others: nodes.filter((n) => !shown.has(n.id)) };
}
