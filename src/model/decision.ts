/**
 * The class a row's probabilities predict. Serving's responses, batch scoring's labels and every
 * metric (evaluation, the gate's resamples, the seeds' and the threshold's scores) decide here,
 * so a model's threshold means the same everywhere.
 */

/**
 * Row `r` of `probabilities` (`k` per row): with a decision threshold (a binary model's
 * model.threshold), the second class when its probability is above it; otherwise the most probable
 * class, the first on ties (so a threshold of 0.5 decides as none does).
 */
export function decide(probabilities: ArrayLike<number>, r: number, k: number, threshold?: number): number {
  if (threshold !== undefined && k === 2) return probabilities[r * 2 + 1]! > threshold ? 1 : 0;
  let best = 0;
  for (let c = 1; c < k; c++) if (probabilities[r * k + c]! > probabilities[r * k + best]!) best = c;
  return best;
}
