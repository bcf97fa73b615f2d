import type { Command } from 'commander';
import { predictLines } from '../predict/report.js';
import { runPredict } from '../predict/run.js';
import { contextFrom, type GlobalOptions } from './context.js';

export function registerPredict(cli: Command): void {
  cli
    .command('predict')
    .description(
      "score the rows of predict.source's query with a registry version and write them to predict.sink, replacing that as_of's batch",
    )
    .option('--as-of <date>', 'the batch day (YYYY-MM-DD), bound to $as_of in the query (default: predict.as_of)')
    .option('--version <ref>', 'the registry version or alias to score with (default: predict.version, the champion)')
    .option('--run-id <id>', 'name the run instead of generating an id')
    .option('--json', 'print the batch report as JSON')
    .action(async (opts: { asOf?: string; version?: string; runId?: string; json?: boolean }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>(), opts.runId);
      const out = await runPredict(ctx, { asOf: opts.asOf, version: opts.version });
      process.stdout.write((opts.json ? JSON.stringify(out, null, 2) : predictLines(out).join('\n')) + '\n');
    });
}
