import { parseConfig } from '../config/load.js';
import { readModelCard } from '../model/model-card.js';
import { train } from '../model/train.js';
import { jsonInput, runAction } from './action.js';
import { trainSummary } from './summary.js';
import type { TrainOutputs } from '../step-outputs.js';

/** The train action: preprocessing and the model, with optional hyperparameter overrides. */
export const run = () =>
  runAction<{ train: TrainOutputs }>({
    steps: { train },
    // Overrides of the `model` section, validated as strictly as the file itself.
    config: ({ config, env }) => parseConfig({ ...config, model: { ...config.model, ...jsonInput('hyperparameters') } }, env),
    outputs: ({ train: out }) => ({ epochs: out.epochs, 'best-epoch': out.bestEpoch, 'val-loss': out.valLoss, backend: out.backend }),
    summary: async ({ train: out }) => {
      const card = await readModelCard(out.modelDir);
      return trainSummary(out, card.training.history, card.search);
    },
  });
