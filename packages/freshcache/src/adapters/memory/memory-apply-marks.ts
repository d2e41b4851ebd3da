import type { ApplyMark, ApplyMarks } from '../../seams/apply-marks.js';
import { MARKS_KEPT } from '../../seams/apply-marks.js';

/** ApplyMarks of one process: the embedded deployment, and tests. */
export class MemoryApplyMarks implements ApplyMarks {
  /** By node and region (a process may serve several regions). */
  private readonly nodes = new Map<string, { node: string; region: string; marks: ApplyMark[] }>();

  constructor(private readonly kept = MARKS_KEPT) {}

  async report(mark: ApplyMark): Promise<void> {
    const id = `${mark.node}\n${mark.region}`;
    const node = this.nodes.get(id) ?? { node: mark.node, region: mark.region, marks: [] };
    node.marks.push({ ...mark });
    if (node.marks.length > this.kept) node.marks.splice(0, node.marks.length - this.kept);
    this.nodes.set(id, node);
  }

  async appliedAt(position: number): Promise<{ node: string; region: string; at: number | null }[]> {
    return [...this.nodes.values()].map(({ node, region, marks }) => ({ node, region, at: marks.find((mark) => mark.position >= position)?.at ?? null }));
  }

  async forget(node: string): Promise<void> {
    for (const [id, marks] of this.nodes) if (marks.node === node) this.nodes.delete(id);
  }

  async close(): Promise<void> {}
}
