import type { FreshcacheNode } from '../../api/types';
import { orderRegions } from '../../lib/regions';

export interface NodeGroup {
  /** The regions its nodes serve, joined (`us-east`, or `us-east, eu-west` for a node serving both); '' for none. */
  name: string;
  nodes: FreshcacheNode[];
}

/**
 * The nodes grouped by the regions they serve, in the configured region order, each group's
 * nodes by id; the nodes that serve no region (a library instance, a control process) last.
 */
export function groupByRegion(nodes: readonly FreshcacheNode[], configured: readonly string[] = []): NodeGroup[] {
  const groups = new Map<string, FreshcacheNode[]>();
  for (const node of nodes) {
    const name = orderRegions(node.regions, configured).join(', ');
    groups.set(name, [...(groups.get(name) ?? []), node]);
  }
  const rank = (name: string) => {
    if (name === '') return Number.MAX_SAFE_INTEGER;
    const first = configured.indexOf(name.split(', ')[0]!);
    return first === -1 ? configured.length : first;
  };
  return [...groups.entries()]
    .map(([name, members]) => ({ name, nodes: members.sort((a, b) => a.id.localeCompare(b.id)) }))
    .sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}
