import { decide } from './decision.js';

// Predictions are assembled as JSON text directly: serialising objects would be most of a request's cost.
// The server's responses and batch scoring's sinks print them with the same code, so they agree digit for digit.

/** A float32 in the fewest digits that read back as the same float32 (9 significant digits do). */
export const f32 = (v: number) => String(Number(v.toPrecision(9)));

/** Each row's class probabilities as a JSON object's text, and the index of the class it predicts (at `threshold`, for a binary model with one). */
export function probabilitiesJson(
  classes: string[],
  out: Float32Array,
  rows: number,
  threshold?: number,
): { json: string[]; best: Uint16Array } {
  const json = new Array<string>(rows);
  const best = new Uint16Array(rows);
  const k = classes.length;
  const keys = classes.map((c) => `${JSON.stringify(c)}:`);
  for (let r = 0; r < rows; r++) {
    let probabilities = `${keys[0]}${f32(out[r * k]!)}`;
    for (let j = 1; j < k; j++) probabilities += `,${keys[j]}${f32(out[r * k + j]!)}`;
    best[r] = decide(out, r, k, threshold);
    json[r] = `{${probabilities}}`;
  }
  return { json, best };
}

/** Each row's prediction as JSON text: `{"label", "probabilities"}`, or `{"value"}` for regression. */
export function outputJson(
  classes: string[] | undefined,
  out: Float32Array,
  rows: number,
  threshold?: number,
): { json: string[]; best: Uint16Array } {
  if (!classes) return { json: Array.from({ length: rows }, (_, r) => `{"value":${f32(out[r]!)}}`), best: new Uint16Array(rows) };
  const { json, best } = probabilitiesJson(classes, out, rows, threshold);
  for (let r = 0; r < rows; r++) json[r] = `{"label":${JSON.stringify(classes[best[r]!])},"probabilities":${json[r]}}`;
  return { json, best };
}
