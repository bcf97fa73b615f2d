import type { PreprocessSpec } from './preprocess.js';

/** The largest |z| of a record's numeric features, from the standardised model input. */
export function outlierScores(spec: PreprocessSpec, x: Float32Array, rows: number): Float32Array {
  const offsets: number[] = [];
  let offset = 0;
  for (const f of spec.features) {
    if (f.kind === 'numeric') offsets.push(offset);
    offset += f.kind === 'category' ? f.vocabulary.length + 1 : 1;
  }
  const scores = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (const o of offsets) max = Math.max(max, Math.abs(x[r * spec.width + o]!));
    scores[r] = max;
  }
  return scores;
}
