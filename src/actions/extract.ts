import * as core from '@actions/core';
import { readArtifact } from '../artifacts.js';
import { contractFile } from '../artifact-files.js';
import { extract } from '../data/extract.js';
import type { ExtractOutputs } from '../step-outputs.js';
import type { StepContext } from '../context.js';
import { readRun } from '../runs/ledger.js';
import { runAction } from './action.js';
import { extractSummary } from './summary.js';

/** True when the run ended at extract: the champion was trained on this very data, config and code. */
const unchanged = async (ctx: StepContext) => (await readRun(ctx.runDir))?.status === 'unchanged';

/** The extract action: the training window from the warehouse, cleansed against the data contract. */
export const run = () =>
  runAction<{ extract: ExtractOutputs }>({
    steps: { extract },
    prepare: () => ({ asOf: core.getInput('as-of') || undefined, retrain: core.getBooleanInput('retrain') }),
    outputs: async ({ extract: out }, ctx) => ({
      changed: !(await unchanged(ctx)),
      'rows-read': out.rows.read,
      'rows-quarantined': out.rows.quarantined,
      'data-hash': out.dataHash,
      'as-of': out.window.asOf,
    }),
    // Each broken contract rule is an annotation on the config that declares it.
    annotate: async (_out, ctx) => {
      const contract = await readArtifact(ctx, contractFile);
      for (const [rule, rows] of Object.entries(contract.rules))
        core.warning(`${rows} rows quarantined by ${rule} (see quarantine.jsonl in the run's extract artifacts)`, {
          title: 'data contract',
          file: ctx.configFile,
        });
    },
    summary: async ({ extract: out }, ctx) =>
      extractSummary(out, await readArtifact(ctx, contractFile)) +
      ((await unchanged(ctx))
        ? "\n\n**Nothing new to train**: the data, config and code are the champion's own, so this run adds no version, image or rollout. To train anyway, run the workflow with `retrain`.\n"
        : ''),
  });
