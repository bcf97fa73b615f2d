import type { Command } from 'commander';
import { stepDir } from '../context.js';
import { extract, type ExtractOutputs } from '../data/extract.js';
import { train, type TrainOutputs } from '../model/train.js';
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
    .description('run the whole pipeline on the configured defaults')
    .option('--as-of <date>', 'the batch day (YYYY-MM-DD); reruns with the same day reproduce a run')
    .option('--run-id <id>', 'name the run instead of generating an id')
    .action(async (opts: { asOf?: string; runId?: string }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>(), opts.runId);
      ctx.log.info(`run ${ctx.runId}: ${ctx.config.project}`);
      const extracted = await extract(ctx, { asOf: opts.asOf });
      const trained = await train(ctx);
      process.stdout.write(`\nrun ${ctx.runId} succeeded\n${extractSummary(extracted, ctx.runDir)}\n${trainSummary(trained)}\n`);
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
