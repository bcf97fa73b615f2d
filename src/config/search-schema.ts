import { z } from 'zod';

/**
 * `model.search`: a seeded random search over the hyperparameters `space` names, each trial scored
 * on the validation split (src/model/search.ts). Its own file, so the config schema keeps one line.
 */

/** A range to draw from: `{ min, max }`, both included. */
const range = (value: z.ZodNumber) => z.strictObject({ min: value, max: value });

/** A key of the space: a list of values to choose from, or a range. */
const axis = (value: z.ZodNumber) => z.union([z.array(value), range(value)]);

/** The keys of model.search.space, each of which replaces the model's own setting of that name in a trial. */
export const searchKeys = ['hidden', 'dropout', 'learning_rate', 'batch_size'] as const;
export type SearchKey = (typeof searchKeys)[number];

/** How each range is drawn from, and an example of a good setting, for the errors and the docs. */
const examples: Record<SearchKey, { list: string; range?: string }> = {
  hidden: { list: '[[32], [64, 32], [128, 64]]' },
  dropout: { list: '[0, 0.1, 0.3]', range: '{ min: 0, max: 0.3 }' },
  learning_rate: { list: '[0.001, 0.003]', range: '{ min: 0.0003, max: 0.01 }' },
  batch_size: { list: '[16, 32, 64]', range: '{ min: 16, max: 128 }' },
};

/** The powers of two in [min, max]: the batch sizes a range of them draws from. */
export function powersOfTwo(min: number, max: number): number[] {
  const powers: number[] = [];
  for (let p = 1; p <= max; p *= 2) if (p >= min) powers.push(p);
  return powers;
}

export const searchSchema = z
  .strictObject({
    /** Trials to run, each one training. */
    trials: z.number().int().positive().default(8),
    /** No trial starts after this many minutes of the search; the trials run so far are ranked. */
    minutes: z.number().positive().default(30),
    /** Seeds the draws of the space; model.seed by default. Every trial trains on model.seed. */
    seed: z.number().int().optional(),
    /**
     * What a trial draws, each key left out keeping the model's own setting. Lists are choices;
     * ranges `{ min, max }` are drawn uniformly (dropout), log-uniformly (learning_rate), or among
     * their powers of two (batch_size).
     */
    space: z.strictObject({
      hidden: z.array(z.array(z.number().int().positive())).optional(),
      dropout: axis(z.number().min(0).lt(1)).optional(),
      learning_rate: axis(z.number().positive()).optional(),
      batch_size: axis(z.number().int().positive()).optional(),
    }),
  })
  .superRefine((search, ctx) => {
    const keys = searchKeys.filter((k) => search.space[k] !== undefined);
    if (!keys.length)
      ctx.addIssue({
        code: 'custom',
        path: ['space'],
        message: `expected at least one of ${searchKeys.join(', ')} to search, e.g. learning_rate: ${examples.learning_rate.range}`,
      });
    for (const key of keys) {
      const axis = search.space[key]!;
      const example = examples[key];
      const path = ['space', key];
      if (Array.isArray(axis)) {
        if (!axis.length)
          ctx.addIssue({
            code: 'custom',
            path,
            message: `an empty list has nothing to choose from: list values, e.g. ${example.list}, or leave ${key} out to keep model.${key}`,
          });
      } else if (axis.min > axis.max) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `the range is inverted (min ${axis.min} > max ${axis.max}): expected min <= max, e.g. { min: ${axis.max}, max: ${axis.min} }`,
        });
      } else if (key === 'batch_size' && !powersOfTwo(axis.min, axis.max).length) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `the range { min: ${axis.min}, max: ${axis.max} } is empty: batch sizes are drawn among its powers of two and it holds none; widen it, e.g. ${example.range}, or list sizes`,
        });
      }
    }
  });

export type SearchConfig = z.output<typeof searchSchema>;
