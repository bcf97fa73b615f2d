import { z } from 'zod';

/**
 * The fields the model card shares with the step artifacts (evaluation.json): zod only, so that
 * the artifacts' schemas and the step outputs can name them without loading the card's module.
 */

/** A number a JSON round trip may have turned into null (NaN, an infinity): read back as NaN. */
export const lossyNumber = z.preprocess(
  (v) => (v === null ? Number.NaN : v),
  z.custom<number>((v) => typeof v === 'number', 'expected a number'),
);

// Metric names as plain strings: the schema's list would load the config schema into the prediction server.
export const metricName = z.string().min(1);

/**
 * Permutation importance on the test split (the evaluate step adds it): how much `metric` gets worse,
 * in its better direction, when one input column is shuffled, over seeded repeats; most important first.
 */
export const importanceSchema = z.object({
  metric: metricName,
  /** The metric unshuffled, and the rows and repeats it was measured on. */
  score: lossyNumber,
  rows: z.number().int().nonnegative(),
  repeats: z.number().int().positive(),
  seed: z.number().int(),
  columns: z.array(z.object({ column: z.string().min(1), drop: lossyNumber, std: lossyNumber })),
});
export type Importance = z.output<typeof importanceSchema>;
