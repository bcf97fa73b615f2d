import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readArtifact } from '../artifacts.js';
import { trainFile } from '../artifact-files.js';
import { evaluate } from '../evaluate/evaluate.js';
import { runAction } from './action.js';
import { evaluateSummary } from './summary.js';
import type { EvaluateOutputs } from '../step-outputs.js';

const numeric = (metrics: object) => Object.fromEntries(Object.entries(metrics).filter(([, v]) => typeof v === 'number'));

/** The evaluate action: the candidate on the test split, per slice, and the champion on the same rows. */
export const run = () =>
  runAction<{ evaluate: EvaluateOutputs }>({
    steps: { evaluate },
    outputs: ({ evaluate: out }) => ({ metrics: JSON.stringify(numeric(out.metrics)), champion: out.champion?.version ?? '' }),
    summary: async ({ evaluate: out }, ctx) => {
      const { modelDir } = await readArtifact(ctx, trainFile);
      const spec = JSON.parse(await readFile(join(modelDir, 'preprocess.json'), 'utf8')) as { label: { classes?: string[] } };
      return evaluateSummary(out, spec.label.classes ?? []);
    },
  });
