import type { Value } from './dataset.js';

/**
 * What fitting a feature, checking it and taking its reference statistics need of its train
 * values, gathered a piece at a time: the present numbers of a numeric feature (8 bytes a row),
 * the counts of a category or boolean one. A column is never needed whole.
 */
/** A feature's kind (preprocess.ts's FeatureKind, which is passed here and so must fit). */
type Kind = 'numeric' | 'category' | 'boolean';

export interface ColumnSummary {
  rows: number;
  /** Rows without a value. */
  missing: number;
  /** Numeric: the present (finite) numbers, in source order. */
  numbers: Float64Array;
  /** Category and boolean: each present value's count. */
  counts: Map<string | boolean, number>;
}

/** A summary of `rows` values of a `kind` feature, given in pieces to `add`. */
export function summariser(kind: Kind, rows: number): { add(values: Value[]): void; summary(): ColumnSummary } {
  const numbers = new Float64Array(kind === 'numeric' ? rows : 0);
  const counts = new Map<string | boolean, number>();
  let [n, missing] = [0, 0];
  const add =
    kind === 'numeric'
      ? (v: Value) => {
          if (typeof v === 'number' && Number.isFinite(v)) numbers[n++] = v;
          else if (v === null) missing++;
        }
      : (v: Value) => {
          if (typeof v === (kind === 'boolean' ? 'boolean' : 'string'))
            counts.set(v as string | boolean, (counts.get(v as string | boolean) ?? 0) + 1);
          else if (v === null) missing++;
        };
  return {
    add: (values) => values.forEach(add),
    summary: () => ({ rows, missing, numbers: numbers.subarray(0, n), counts }),
  };
}

/** The summary of a whole column. */
export function summarise(kind: Kind, values: Value[]): ColumnSummary {
  const s = summariser(kind, values.length);
  s.add(values);
  return s.summary();
}

/** The most frequent value; ties go to the first in string order. */
export function modeOf<T extends string | boolean>(counts: Map<T, number>): T | undefined {
  let top: T | undefined;
  for (const [v, c] of counts)
    if (top === undefined || c > counts.get(top)! || (c === counts.get(top)! && String(v) < String(top))) top = v;
  return top;
}

/** Up to two distinct present values: a column with fewer is constant (or empty). */
export function distinctOf(s: ColumnSummary): (string | number | boolean)[] {
  if (s.counts.size) return [...s.counts.keys()].slice(0, 2);
  const first = s.numbers[0];
  if (first === undefined) return [];
  const other = s.numbers.find((v) => v !== first);
  return other === undefined ? [first] : [first, other];
}
