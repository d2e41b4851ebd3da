import type { LoadContext } from './cache-types.js';

/**
 * The LoadContext of one read of the source, which the filler may abandon (a timeout, an
 * invalidation that overtook it). Its signal is made the first time the loader asks for it: most
 * loaders never do, and an AbortController with its listener made each miss of an in-process
 * loader cost about twice the CPU.
 */
export class AttemptContext implements LoadContext {
  version?: number;
  tags?: string[];
  ttlMs?: number;
  staleAfterMs?: number;
  #controller: AbortController | undefined;
  #abandoned = false;
  #reason: unknown;
  #onAbandon: ((reason: unknown) => void) | undefined;

  constructor(readonly key: string) {}

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abandoned) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether the read was abandoned, and why. */
  get abandoned(): boolean {
    return this.#abandoned;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** Called (once) when the read is abandoned: the filler stops waiting for it. */
  onAbandon(listener: (reason: unknown) => void): void {
    this.#onAbandon = listener;
  }

  /** Abandons the read: aborts its signal, if the loader took it, and tells the filler. */
  abandon(reason: unknown): void {
    if (this.#abandoned) return;
    this.#abandoned = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.#onAbandon?.(reason);
  }
}
