import type { ColumnSummary } from './column-summary.js';
import type { FeatureTransform } from './preprocess.js';

/**
 * Reference statistics of every input feature on the train split, saved in the model card, so
 * serving and monitoring can measure drift (PSI) against exactly what the model learned from.
 */
export type FeatureReference =
  /** Decile bin edges (9 inner edges) and the share of train values in each of the 10 bins. */
  | { kind: 'numeric'; edges: number[]; shares: number[]; missing: number }
  /** Share of each vocabulary value, then of everything else (out of vocabulary). */
  | { kind: 'category'; values: string[]; shares: number[]; missing: number }
  | { kind: 'boolean'; shareTrue: number; missing: number };

/** A feature's reference statistics, from the summary of its train values. */
export function referenceOf(t: FeatureTransform, train: ColumnSummary): FeatureReference {
  const missing = train.missing / (train.rows || 1);
  if (t.kind === 'numeric') {
    const sorted = Float64Array.from(train.numbers).sort();
    const edges = sorted.length ? Array.from({ length: 9 }, (_, i) => sorted[Math.floor(((i + 1) * sorted.length) / 10)]!) : [];
    const counts = new Array<number>(10).fill(0);
    for (const v of sorted) counts[binOf(edges, v)]!++;
    return { kind: 'numeric', edges, shares: counts.map((c) => c / (sorted.length || 1)), missing };
  }
  let present = 0;
  for (const c of train.counts.values()) present += c;
  if (t.kind === 'category') {
    const index = new Map(t.vocabulary.map((v, i) => [v, i]));
    const counts = new Array<number>(t.vocabulary.length + 1).fill(0);
    for (const [v, c] of train.counts) counts[index.get(v as string) ?? t.vocabulary.length]! += c;
    return { kind: 'category', values: t.vocabulary, shares: counts.map((c) => c / (present || 1)), missing };
  }
  return { kind: 'boolean', shareTrue: (train.counts.get(true) ?? 0) / (present || 1), missing };
}

/** The bin of a value given inner edges: values equal to an edge go to the upper bin. */
export function binOf(edges: number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v < edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The reference's share of each bin: the bins `binValue` puts served values in. */
export const expectedShares = (reference: FeatureReference): number[] =>
  reference.kind === 'boolean' ? [1 - reference.shareTrue, reference.shareTrue] : reference.shares;

/**
 * The bin of a served value against a feature's reference, or -1 for a missing value (not part of
 * the distribution). Serving's sliding window and `mlops monitor` both bin with this, so they agree.
 */
export function binValue(reference: FeatureReference, v: unknown): number {
  if (v === null || v === undefined) return -1;
  if (reference.kind === 'numeric') return typeof v === 'number' ? binOf(reference.edges, v) : -1;
  if (reference.kind === 'boolean') return v === true ? 1 : 0;
  const i = reference.values.indexOf(String(v));
  return i === -1 ? reference.values.length : i;
}

/**
 * The population stability index of observed bin counts against expected shares:
 * sum of (actual - expected) * ln(actual / expected), shares floored at 1e-4 so an empty bin is
 * finite. Undefined when nothing was observed.
 */
export function psi(expected: number[], counts: ArrayLike<number>): number | undefined {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return undefined;
  let sum = 0;
  expected.forEach((e, i) => {
    const a = Math.max(counts[i]! / total, 1e-4);
    const x = Math.max(e, 1e-4);
    sum += (a - x) * Math.log(a / x);
  });
  return sum;
}
