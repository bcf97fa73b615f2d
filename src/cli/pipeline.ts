import type { Command } from 'commander';
import { stepDir } from '../context.js';
import { extract, type ExtractOutputs } from '../data/extract.js';
import { MlopsError } from '../errors.js';
import { train, type TrainOutputs } from '../model/train.js';
import { runPipeline } from '../pipeline.js';
import { runSummary } from '../report.js';
import { contextFrom, type GlobalOptions } from './context.js';

const fmt = (n: number) => n.toLocaleString('en-US');

function extractSummary(out: ExtractOutputs, dir: string): string {
  return [
    `window      ${out.window.windowStart} to ${out.window.asOf} (as_of=${out.window.asOf}, source ${out.source})`,
    `rows        ${fmt(out.rows.read)} read, ${fmt(out.rows.clean)} clean, ${fmt(out.rows.quarantined)} quarantined`,
    `split       train ${fmt(out.split.train)}, validation ${fmt(out.split.validation)}, test ${fmt(out.split.test)}`,
    `features    ${out.features.join(', ')} -> ${out.label} (${out.task})`,
    `data hash   ${out.dataHash}`,
    `artifacts   ${dir}`,
  ].join('\n');
}

function trainSummary(out: TrainOutputs): string {
  return [
    `training    ${out.epochs} epochs on ${out.backend}, best epoch ${out.bestEpoch} (val_loss ${out.valLoss.toFixed(4)}), ${fmt(out.samplesPerSecond)} samples/s`,
    `model       ${out.modelDir}`,
  ].join('\n');
}

export function registerPipeline(cli: Command): void {
  cli
    .command('run')
    .description('run the whole pipeline: extract, train, evaluate, gate, record')
    .option('--as-of <date>', 'the batch day (YYYY-MM-DD); reruns with the same day reproduce a run')
    .option('--run-id <id>', 'name the run instead of generating an id')
    .option('--force <reason>', 'release even if the gate rejects the model; the reason is recorded')
    .action(async (opts: { asOf?: string; runId?: string; force?: string }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>(), opts.runId);
      ctx.log.info(`run ${ctx.runId}: ${ctx.config.project}`);
      const result = await runPipeline(ctx, { asOf: opts.asOf, force: opts.force === undefined ? undefined : { reason: opts.force } });
      process.stdout.write(`\n${runSummary(ctx.runId, ctx.runDir, result)}\n`);
      if (!result.decision.blessed) {
        const failed = result.decision.rules.filter((r) => !r.passed).map((r) => `${r.metric} (${r.scope}) ${r.rule}`);
        throw new MlopsError('quality', `the model failed the gate: ${failed.join(', ')}`, {
          hint: 'the champion stays; see the gate section above',
        });
      }
    });

  cli
    .command('extract')
    .description('pull the training window from the warehouse, enforce the data contract, quarantine bad rows, split')
    .option('--as-of <date>', 'the batch day (YYYY-MM-DD); defaults to data.window.as_of')
    .option('--run-id <id>', 'name the run instead of generating an id')
    .option('--json', 'print the step outputs as JSON')
    .action(async (opts: { asOf?: string; runId?: string; json?: boolean }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>(), opts.runId);
      const out = await extract(ctx, { asOf: opts.asOf });
      process.stdout.write(opts.json ? JSON.stringify(out, null, 2) + '\n' : extractSummary(out, stepDir(ctx, 'extract')) + '\n');
    });

  cli
    .command('train')
    .description("fit the preprocessing on the train split and train the model, from a run's extract output")
    .requiredOption('--run-id <id>', 'the run whose extract output to train on')
    .option('--json', 'print the step outputs as JSON')
    .action(async (opts: { runId: string; json?: boolean }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>(), opts.runId);
      const out = await train(ctx);
      process.stdout.write(opts.json ? JSON.stringify(out, null, 2) + '\n' : trainSummary(out) + '\n');
    });
}
