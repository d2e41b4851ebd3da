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
  /** The primaries serving slots, by address, each with its colour and replicas. */
  primaries: Primary[];
  /** Every slot range, in order: a primary's (its index in `primaries`), or null where no primary serves it. */
  segments: { first: number; last: number; primary: number | null }[];
  /** Primaries serving no slot (an added node before a rebalance, a failed one), replicas without a known primary. */
  others: RedisNode[];
  /** Each primary's colour by node id: pass it to the next call so that colours stay put as slots move. */
  colours: Map<string, string>;
}

export const countSlots = (ranges: readonly [number, number][]) => ranges.reduce((sum, [first, last]) => sum + last - first + 1, 0);

/** `host:port` in host order, then port order (7002 before 7010). */
function byAddress(a: RedisNode, b: RedisNode): number {
  const [hostA = '', portA = '0'] = a.address.split(/:(?=\d+$)/);
  const [hostB = '', portB = '0'] = b.address.split(/:(?=\d+$)/);
  return hostA.localeCompare(hostB) || Number(portA) - Number(portB);
}

/**
 * The ring of a Redis Cluster from `GET /api/nodes`: each primary's ranges in its colour, and the
 * gaps. A standalone server (no slots, no cluster) is drawn owning every slot: it holds every key.
 * A primary keeps the colour `kept` gives it (the previous layout's), so that a resharding moves
 * colours around the ring instead of repainting it; a new primary takes the first colour unused.
 */
export function slotLayout(nodes: readonly RedisNode[], cluster: boolean, kept: ReadonlyMap<string, string> = new Map()): SlotLayout {
  const masters = nodes.filter((n) => n.role === 'master');
  const serving = cluster ? masters.filter((n) => n.slots.length > 0) : masters.slice(0, 1);
  const ranges = (n: RedisNode): [number, number][] => (cluster ? n.slots : [[0, SLOTS - 1]]);
  const ordered = [...serving].sort(byAddress);
  const colours = new Map<string, string>();
  for (const node of ordered) {
    const colour = kept.get(node.id);
    if (colour !== undefined && ![...colours.values()].includes(colour)) colours.set(node.id, colour);
  }
  for (const node of ordered) {
    if (colours.has(node.id)) continue;
    const used = [...colours.values()];
    colours.set(node.id, COLOURS.find((c) => !used.includes(c)) ?? COLOURS[colours.size % COLOURS.length]!);
  }
  const primaries: Primary[] = ordered.map((node) => ({
    node,
    colour: colours.get(node.id)!,
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
  return { primaries, segments, others: nodes.filter((n) => !shown.has(n.id)), colours };
}
