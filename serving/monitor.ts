import type { Value } from '../src/model/dataset.js';
import type { PreprocessSpec } from '../src/model/preprocess.js';
import { binValue, expectedShares, psi, type FeatureReference } from '../src/model/reference.js';

/**
 * Prediction monitoring: per feature, the bins of the last `window` values served, compared with
 * the training reference in the model card by the population stability index (PSI), and the
 * outlier score of each record. Updating is O(features) per record; PSI is computed on scrape.
 */
export class DriftMonitor {
  private readonly features: { name: string; reference: FeatureReference; bins: Int16Array; counts: Float64Array; expected: number[] }[];
  private readonly outliers: Uint8Array;
  private next = 0;
  private seen = 0;

  constructor(
    spec: PreprocessSpec,
    reference: Record<string, FeatureReference>,
    private readonly window: number,
  ) {
    this.outliers = new Uint8Array(window);
    this.features = spec.features
      .filter((f) => reference[f.name])
      .map((f) => {
        const ref = reference[f.name]!;
        const expected = expectedShares(ref);
        return { name: f.name, reference: ref, bins: new Int16Array(window).fill(-1), counts: new Float64Array(expected.length), expected };
      });
  }

  /** Records served rows; `outlier[r]` says whether row r was an outlier. */
  observe(columns: Record<string, Value[]>, rows: number, outlier: (r: number) => boolean): void {
    const start = this.next;
    const advance = (slot: number) => (slot + 1 === this.window ? 0 : slot + 1);
    for (const f of this.features) {
      const column = columns[f.name];
      for (let r = 0, slot = start; r < rows; r++, slot = advance(slot)) {
        const old = f.bins[slot]!;
        if (old >= 0) f.counts[old]!--;
        const b = binValue(f.reference, column?.[r] ?? null);
        f.bins[slot] = b;
        if (b >= 0) f.counts[b]!++;
      }
    }
    for (let r = 0, slot = start; r < rows; r++, slot = advance(slot)) this.outliers[slot] = outlier(r) ? 1 : 0;
    this.next = (start + rows) % this.window;
    this.seen += rows;
  }

  /** PSI per feature over the window. */
  psi(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const f of this.features) {
      const value = psi(f.expected, f.counts);
      if (value !== undefined) out[f.name] = value;
    }
    return out;
  }

  /** Share of outliers among the last `window` records. */
  outlierRate(): number {
    const n = Math.min(this.seen, this.window);
    return n ? this.outliers.subarray(0, n).reduce((a, b) => a + b, 0) / n : 0;
  }
}
