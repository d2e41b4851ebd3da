/** A QuantileSketch as JSON: what a node sends the control process, which adds them up. */
export interface SketchJson {
  /** Relative accuracy: every quantile is within this fraction of a true value. */
  alpha: number;
  /** Values at or below MIN_VALUE (a lag of 0 ms, say). */
  zero: number;
  /** Values per bucket index: bucket i holds (γ^(i-1), γ^i]. */
  bins: Record<string, number>;
  count: number;
}

const MIN_VALUE = 1e-9;

/**
 * A log-bucket quantile sketch, DDSketch's mapping: a value v goes to bucket ceil(log_γ v), with
 * γ = (1 + α) / (1 - α), so any quantile it answers is within α of a true value, and two sketches
 * merge exactly by adding their buckets. That is what fleet percentiles need: merged, never
 * averaged. Written here because DDSketch's JavaScript library serializes only to protobuf, and
 * the wire form here is JSON a few hundred bytes long.
 */
export class QuantileSketch {
  private readonly logGamma: number;
  private readonly bins = new Map<number, number>();
  private zero = 0;
  count = 0;

  constructor(readonly alpha = 0.01) {
    this.logGamma = Math.log((1 + alpha) / (1 - alpha));
  }

  static from(json: SketchJson): QuantileSketch {
    const sketch = new QuantileSketch(json.alpha);
    sketch.merge(json);
    return sketch;
  }

  add(value: number, times = 1): void {
    if (!(value > MIN_VALUE)) this.zero += times;
    else {
      const index = Math.ceil(Math.log(value) / this.logGamma);
      this.bins.set(index, (this.bins.get(index) ?? 0) + times);
    }
    this.count += times;
  }

  /** Adds another sketch's values; it must have the same accuracy. */
  merge(other: SketchJson): void {
    if (other.alpha !== this.alpha) throw new RangeError(`cannot merge a sketch of accuracy ${other.alpha} into one of ${this.alpha}`);
    this.zero += other.zero;
    for (const [index, times] of Object.entries(other.bins)) this.bins.set(Number(index), (this.bins.get(Number(index)) ?? 0) + times);
    this.count += other.count;
  }

  /** The value at quantile q (0..1), within `alpha` of a true one; null when empty. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    let rank = Math.max(0, Math.ceil(q * this.count) - 1);
    if (rank < this.zero) return 0;
    rank -= this.zero;
    for (const index of [...this.bins.keys()].sort((a, b) => a - b)) {
      const times = this.bins.get(index)!;
      if (rank < times) return (2 * Math.exp(index * this.logGamma)) / (1 + Math.exp(this.logGamma));
      rank -= times;
    }
    return null;
  }

  toJSON(): SketchJson {
    return { alpha: this.alpha, zero: this.zero, bins: Object.fromEntries(this.bins), count: this.count };
  }
}
