import { higherIsBetter, stabilityMetrics, type Config, type MetricName } from '../config/schema.js';
import { powersOfTwo, type SearchConfig } from '../config/search-schema.js';
import type { StepContext } from '../context.js';
import { MlopsError } from '../errors.js';
import type { Dataset } from './dataset.js';
import type { Model } from './family.js';
import type { ModelCard } from './model-card.js';
import { decodeOutputs } from './predictor.js';
import { seededRandom } from './random.js';
import { seedMetrics } from './stability.js';
import type { TrainingData } from './training-data.js';

/**
 * model.search: a seeded random search over the space the config declares. Every trial trains on
 * model.seed and is scored on the validation split, like the seeds of model.stability: ranking on
 * the test split would pick the model on the very rows the gate then judges it on. The best trial
 * is trained again on the seeds of model.stability; one whose spread breaks gates.stability.max_std
 * is passed over for the next best, so a search never releases a lucky draw of an unstable setting.
 */

export type SearchRecord = NonNullable<ModelCard['search']>;
type Trial = SearchRecord['trials'][number];
export type TrialParams = Trial['params'];

/** What the search needs of a training: the training core's result (train.ts) has it. */
export interface TrialRun {
  model: Model;
  history: unknown[];
  best: { valLoss: number; epoch: number };
}

type Hooks = Pick<StepContext, 'progress' | 'log'>;

/** Draws of one setting, rounded so that the card and the logs read cleanly. */
const round = { dropout: (v: number) => Math.round(v * 100) / 100, learning_rate: (v: number) => Number(v.toPrecision(2)) };
const clamp = (v: number, { min, max }: { min: number; max: number }) => Math.min(max, Math.max(min, v));

/** Tries to draw a setting not drawn before; a space with fewer settings than trials ends the draws early. */
const REDRAWS = 100;

/**
 * The settings of the trials, in order, drawn from `search.seed` (model.seed by default): the same
 * config always draws the same trials. A setting drawn twice is drawn again, so no trial repeats one.
 */
export function drawTrials(search: SearchConfig, modelSeed: number): TrialParams[] {
  const random = seededRandom(search.seed ?? modelSeed);
  const pick = <V>(values: V[]): V => values[Math.floor(random() * values.length)]!;
  const { space } = search;
  const draw = (): TrialParams => {
    const params: TrialParams = {};
    if (space.hidden) params.hidden = pick(space.hidden);
    for (const key of ['dropout', 'learning_rate', 'batch_size'] as const) {
      const axis = space[key];
      if (axis === undefined) continue;
      if (Array.isArray(axis)) params[key] = pick(axis);
      else if (key === 'batch_size') params.batch_size = pick(powersOfTwo(axis.min, axis.max));
      else if (key === 'dropout') params.dropout = clamp(round.dropout(axis.min + random() * (axis.max - axis.min)), axis);
      // Log-uniform: a learning rate's effect scales with its order of magnitude.
      else params.learning_rate = clamp(round.learning_rate(axis.min * (axis.max / axis.min) ** random()), axis);
    }
    return params;
  };
  const drawn: TrialParams[] = [];
  const seen = new Set<string>();
  while (drawn.length < search.trials) {
    let params: TrialParams | undefined;
    for (let attempt = 0; attempt < REDRAWS && !params; attempt++) {
      const candidate = draw();
      if (!seen.has(JSON.stringify(candidate))) params = candidate;
    }
    if (!params) break;
    seen.add(JSON.stringify(params));
    drawn.push(params);
  }
  return drawn;
}

/** `hidden [64, 32], learning_rate 0.003`: a trial's settings for labels and logs. */
export const paramsText = (params: TrialParams) =>
  Object.entries(params)
    .map(([k, v]) => `${k} ${Array.isArray(v) ? `[${v.join(', ')}]` : v}`)
    .join(', ');

/** Progress tasks of a training, labelled as a trial's. */
const labelled = (progress: Hooks['progress'], prefix: string): Hooks['progress'] => ({
  start: (label, options) => progress.start(`${prefix}: ${label}`, options),
});

const isQuality = (err: unknown): err is MlopsError => err instanceof MlopsError && err.errorClass === 'quality';

/**
 * Runs the search of `config.model.search`, training with `trainAt` (the training core, which
 * trains on model.seed, or on every seed of model.stability and judges their spread), and returns
 * the released trial's training with the search's record for the model card.
 */
export async function searchModel<T extends TrialRun>(
  config: Config,
  data: TrainingData,
  { progress, log }: Hooks,
  trainAt: (config: Config, hooks: Hooks) => Promise<T>,
): Promise<T & { search: SearchRecord }> {
  const search = config.model.search!;
  const withParams = (params: TrialParams, stability: Config['model']['stability']): Config => ({
    ...config,
    model: { ...config.model, ...params, search: undefined, stability },
  });
  const metric: MetricName | undefined = stabilityMetrics(config)[0];
  const { valid } = data;
  const labelledRows: Dataset = { rows: valid.rows, columns: {}, label: data.validLabels, sourceRows: [] };
  const scored = (model: Model) =>
    seedMetrics(config, data.spec, decodeOutputs(data.spec, model.predict(valid.x, valid.rows)), labelledRows);

  const points = drawTrials(search, config.model.seed);
  const record: SearchRecord = {
    split: valid.split,
    rows: valid.rows,
    by: metric ?? 'val_loss',
    seed: search.seed ?? config.model.seed,
    budget: { trials: search.trials, minutes: search.minutes },
    trials: [],
    released: 0,
  };
  if (points.length < search.trials)
    record.stopped = `the space holds only ${points.length} distinct settings, fewer than the ${search.trials} trials budgeted`;
  const runs = new Map<number, T>();
  let released: T | undefined;
  const began = performance.now();
  try {
    for (const [i, params] of points.entries()) {
      if (performance.now() - began >= search.minutes * 60_000) {
        record.stopped = `the budget of ${search.minutes} minutes was spent after ${i} of ${points.length} trials`;
        log.warn(`search: ${record.stopped}`);
        break;
      }
      const trial = i + 1;
      const name = `search trial ${trial}/${points.length} (${paramsText(params)})`;
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        const run = await trainAt(withParams(params, undefined), { progress: labelled(progress, name), log });
        runs.set(trial, run);
        const metrics = scored(run.model);
        record.trials.push({ trial, params, seconds: seconds(), epochs: run.history.length, valLoss: run.best.valLoss, metrics });
        const score = metric ? `${metric} ${metrics[metric]!.toFixed(4)}, ` : '';
        log.info(`search: trial ${trial}: ${score}val_loss ${run.best.valLoss.toFixed(4)} on ${valid.rows} ${valid.split} rows`);
      } catch (err) {
        if (!isQuality(err)) throw err;
        record.trials.push({ trial, params, seconds: seconds(), failed: err.message });
        log.warn(`search: trial ${trial} trained no model: ${err.message}`);
      }
    }
    const ranked = rank(config, metric, record.trials);
    if (!ranked.length)
      throw new MlopsError(
        'quality',
        `no trial of the search trained a model: ${record.trials.map((t) => `trial ${t.trial}: ${t.failed}`).join('; ')}`,
        {
          hint: 'narrow model.search.space to settings that train, e.g. lower learning rates',
        },
      );
    for (const [place, t] of ranked.entries()) {
      if (!config.model.stability) {
        released = runs.get(t.trial)!;
      } else {
        // Its own run was on model.seed alone: trained again on every seed, the spread judged.
        try {
          released = await trainAt(withParams(t.params, config.model.stability), {
            progress: labelled(progress, `search trial ${t.trial}`),
            log,
          });
        } catch (err) {
          if (!isQuality(err)) throw err;
          t.unstable = err.message;
          log.warn(`search: trial ${t.trial}, ranked ${place + 1} of ${ranked.length}, is passed over: ${err.message}`);
          continue;
        }
      }
      record.released = t.trial;
      log.info(`search: releasing trial ${t.trial} (${paramsText(t.params)}), ranked ${place + 1} of ${ranked.length} by ${record.by}`);
      return { ...released, search: record };
    }
    throw new MlopsError(
      'quality',
      `no trial of the search trains stably: ${ranked.map((t) => `trial ${t.trial} (${paramsText(t.params)}): ${t.unstable}`).join('; ')}`,
      { hint: 'narrow model.search.space toward lower learning rates or more regularisation, or raise gates.stability.max_std' },
    );
  } finally {
    for (const run of runs.values()) if (run !== released) run.model.dispose();
  }
}

/**
 * The trials that trained a model, best first: by the first gated metric in its better direction
 * (an undefined value last), then by validation loss, then in the order they ran.
 */
function rank(config: Config, metric: MetricName | undefined, trials: Trial[]): Trial[] {
  const sign = metric && !higherIsBetter(metric, config.gates?.thresholds[metric]?.direction) ? 1 : -1;
  const key = (t: Trial) => {
    const v = metric ? t.metrics![metric]! * sign : 0;
    return [Number.isFinite(v) ? v : Infinity, t.valLoss!, t.trial];
  };
  const compare = (a: Trial, b: Trial) => {
    const [ka, kb] = [key(a), key(b)];
    const i = ka.findIndex((v, j) => v !== kb[j]);
    return i < 0 ? 0 : ka[i]! < kb[i]! ? -1 : 1;
  };
  return trials.filter((t) => t.metrics).sort(compare);
}
