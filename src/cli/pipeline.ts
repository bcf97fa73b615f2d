import { dirname } from 'node:path';
import { Option, type Command } from 'commander';
import { stepDir, type StepContext } from '../context.js';
import { extract } from '../data/extract.js';
import { evaluate } from '../evaluate/evaluate.js';
import { gate, rejection } from '../gate/gate.js';
import { train } from '../model/train.js';
import { rekick, runPipeline, type PredictRun } from '../pipeline.js';
import { predictLines } from '../predict/report.js';
import { stepNames, type StepName } from '../step-names.js';
import { decisionLines, extractLines, metricsTable, runSummary, statusTable, trainLines } from '../report.js';
import { asItStands } from '../runs/interrupted.js';
import { listRuns } from '../runs/ledger.js';
import { recentRuns } from '../runs/recent.js';
import { batchTable } from '../runs/batch-table.js';
import { contextFrom, type GlobalOptions } from './context.js';
import type { PipelineResult, UnchangedRun } from '../step-outputs.js';

/** Prints the closing summary; a rejected model ends the command with a quality error (exit 4). */
function finish(ctx: StepContext, result: PipelineResult | UnchangedRun | PredictRun): void {
  if ('predict' in result) return void process.stdout.write(`\n${predictLines(result.predict).join('\n')}\n`);
  process.stdout.write(`\n${runSummary(ctx.runId, ctx.runDir, result)}\n`);
  if (!('unchanged' in result) && !result.decision.blessed) throw rejection(result.decision);
}

const print = (json: boolean | undefined, value: unknown, text: () => string) =>
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text() + '\n');

export function registerPipeline(cli: Command): void {
  cli
    .command('run')
    .description('run the whole pipeline: extract, train, evaluate, gate, record, then build, push and deploy per deploy.target')
    .option('--as-of <date>', 'the batch day (YYYY-MM-DD); reruns with the same day reproduce a run')
    .option('--run-id <id>', 'name the run instead of generating an id')
    .option('--force <reason>', 'release even if the gate rejects the model; the reason is recorded')
    .option('--retrain', "train even when the data, config and code are the champion's own (by default such a run ends after extract)")
    .action(async (opts: { asOf?: string; runId?: string; force?: string; retrain?: boolean }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>(), opts.runId);
      ctx.log.info(`run ${ctx.runId}: ${ctx.config.project}`);
      const force = opts.force === undefined ? undefined : { reason: opts.force };
      finish(ctx, await runPipeline(ctx, { asOf: opts.asOf, force, retrain: opts.retrain }));
    });

  cli
    .command('rekick')
    .description('resume a failed run, reusing the artifacts of the steps that succeeded')
    .argument('<run-id>', 'the run to resume (see mlops status)')
    .addOption(new Option('--from <step>', 'resume at this step instead of the first that did not succeed').choices([...stepNames]))
    .action(async (runId: string, opts: { from?: StepName }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>(), runId);
      const result = await rekick(ctx, opts.from);
      if (result) finish(ctx, result);
    });

  cli
    .command('status')
    .description('the recent runs, newest first')
    .option('-n, --limit <n>', 'how many runs', (v) => Number(v), 20)
    .option('--json', 'print the runs as JSON')
    .action(async (opts: { limit: number; json?: boolean }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>());
      const runs = (await listRuns(dirname(ctx.runDir), opts.limit)).map(asItStands);
      const batches = (await recentRuns(dirname(ctx.runDir), 5)).filter((r) => r.kind === 'predict');
      print(opts.json, runs, () => statusTable(runs) + (batches.length ? `\n\nlast batch runs\n${batchTable(batches)}` : ''));
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
      print(opts.json, out, () => extractLines(out, stepDir(ctx, 'extract')).join('\n'));
    });

  stepCommand(cli, 'train', "fit the preprocessing on the train split and train the model, from a run's extract output", train, (out) =>
    trainLines(out).join('\n'),
  );
  stepCommand(cli, 'evaluate', "score a run's model on its test split, per slice, and the champion on the same rows", evaluate, (out) =>
    metricsTable(out).join('\n'),
  );

  cli
    .command('gate')
    .description("judge a run's evaluation against gates.thresholds")
    .requiredOption('--run-id <id>', 'the run whose evaluation to judge')
    .option('--force <reason>', 'bless the model even if a rule fails; the reason is recorded')
    .option('--json', 'print the decision as JSON')
    .action(async (opts: { runId: string; force?: string; json?: boolean }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>(), opts.runId);
      const decision = await gate(ctx, { force: opts.force === undefined ? undefined : { reason: opts.force } });
      print(opts.json, decision, () => decisionLines(decision).join('\n'));
      if (!decision.blessed) throw rejection(decision);
    });
}

/** `mlops <step> --run-id ID`: one step of a run, from the artifacts of the step before. */
function stepCommand<T>(
  cli: Command,
  name: string,
  description: string,
  run: (ctx: StepContext) => Promise<T>,
  text: (out: T) => string,
): void {
  cli
    .command(name)
    .description(description)
    .requiredOption('--run-id <id>', `the run to ${name}`)
    .option('--json', 'print the step outputs as JSON')
    .action(async (opts: { runId: string; json?: boolean }, cmd: Command) => {
      const out = await run(await contextFrom(cmd.optsWithGlobals<GlobalOptions>(), opts.runId));
      print(opts.json, out, () => text(out));
    });
}
