import type { Entry } from '../seams/entry.js';
import type { Generations } from './generations.js';
import type { LocalSeq } from './sequences.js';
import { localSeq, logPosition } from './sequences.js';

/**
 * Dates the entries of L2, the one place where `Entry.generation` takes either clock. A private
 * L2 is this cache's alone: its entries carry this cache's sequence, as L1's do. A shared L2 is
 * read by every node of the region, to whom this cache's sequence means nothing: its entries
 * carry the log position their reader had reached, and each node turns that back into its own
 * sequence when it reads one (see Generations).
 */
export class EntryDating {
  constructor(
    private readonly generations: Generations,
    /** Whether L2 is read by other nodes too. */
    readonly shared: boolean,
  ) {}

  /** The sequence of this cache at which a stored entry was read; undefined when it is older than this cache can judge. */
  readAt(stored: Entry): LocalSeq | undefined {
    return this.shared ? this.generations.seqAtPosition(logPosition(stored.generation)) : localSeq(stored.generation);
  }

  /** The entry as L2 keeps it, for a value read at `readAt`. */
  forStore(entry: Entry, readAt: LocalSeq): Entry {
    return { ...entry, generation: this.shared ? this.generations.positionAt(readAt) : readAt };
  }
}
