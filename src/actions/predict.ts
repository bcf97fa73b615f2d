import * as core from '@actions/core';
import { runPredict } from '../predict/run.js';
import type { PredictOutputs } from '../step-outputs.js';
import { runAction } from './action.js';
import { predictSummary } from './predict-summary.js';

/** The predict action: a batch scored with a registry version and written to predict.sink, as `mlops predict`. */
export const run = () =>
  runAction<PredictOutputs>({
    steps: {},
    task: (ctx) => runPredict(ctx, { asOf: core.getInput('as-of') || undefined, version: core.getInput('version') || undefined }),
    outputs: (out) => ({
      'as-of': out.window.asOf,
      version: out.version,
      'rows-scored': out.rows.scored,
      'rows-quarantined': out.rows.quarantined,
      // A file sink's batch, for the workflow to keep as an artifact; a table keeps its own.
      file: out.sink.kind === 'parquet' || out.sink.kind === 'csv' ? out.sink.where : '',
    }),
    annotate: (out, ctx) => {
      for (const [rule, rows] of Object.entries(out.rules))
        core.warning(`${rows} rows quarantined by ${rule}, not scored (see predict/quarantine.jsonl in the run's artifact)`, {
          title: 'data contract',
          file: ctx.configFile,
        });
    },
    summary: predictSummary,
  });
