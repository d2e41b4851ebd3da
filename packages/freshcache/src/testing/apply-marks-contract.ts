import { describe, expect, it } from 'vitest';
import type { ApplyMarks } from '../seams/apply-marks.js';

/**
 * The contract every ApplyMarks passes. `make` gives a fresh, empty one (a namespace of its own),
 * keeping at most `kept` marks per node and region.
 */
export function applyMarksContract(name: string, make: (kept: number) => Promise<ApplyMarks>): void {
  describe(`ApplyMarks contract: ${name}`, () => {
    it('a node applied event N at the time of its first mark at or above N, and not yet past its newest', async () => {
      const marks = await make(100);
      await marks.report({ node: 'a', region: 'us-east', position: 3, at: 1_003 });
      await marks.report({ node: 'a', region: 'us-east', position: 7, at: 1_007 });
      expect(await marks.appliedAt(1)).toEqual([{ node: 'a', region: 'us-east', at: 1_003 }]);
      expect(await marks.appliedAt(3)).toEqual([{ node: 'a', region: 'us-east', at: 1_003 }]);
      expect(await marks.appliedAt(4)).toEqual([{ node: 'a', region: 'us-east', at: 1_007 }]);
      expect(await marks.appliedAt(8)).toEqual([{ node: 'a', region: 'us-east', at: null }]);
      await marks.close();
    });

    it('answers for every node and region that reported, each by its own marks', async () => {
      const marks = await make(100);
      await marks.report({ node: 'a', region: 'us-east', position: 5, at: 10 });
      await marks.report({ node: 'a', region: 'eu-west', position: 2, at: 20 });
      await marks.report({ node: 'b', region: 'us-east', position: 9, at: 30 });
      const byPair = (list: { node: string; region: string; at: number | null }[]) => Object.fromEntries(list.map((m) => [`${m.node}/${m.region}`, m.at]));
      expect(byPair(await marks.appliedAt(4))).toEqual({ 'a/us-east': 10, 'a/eu-west': null, 'b/us-east': 30 });
      await marks.forget('a');
      expect(byPair(await marks.appliedAt(4))).toEqual({ 'b/us-east': 30 });
      await marks.close();
    });

    it('keeps the newest marks: an event older than all of them shows the oldest kept', async () => {
      const marks = await make(3);
      for (let position = 1; position <= 5; position++) await marks.report({ node: 'a', region: 'r', position, at: position * 10 });
      // Marks 1 and 2 are gone: event 1 was applied no later than mark 3, which is what is shown.
      expect(await marks.appliedAt(1)).toEqual([{ node: 'a', region: 'r', at: 30 }]);
      expect(await marks.appliedAt(5)).toEqual([{ node: 'a', region: 'r', at: 50 }]);
      await marks.close();
    });
  });
}
