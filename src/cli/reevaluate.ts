import type { Command } from 'commander';
import { MlopsError } from '../errors.js';
import { reevaluate } from '../retirement/reevaluate.js';
import { contextFrom, type GlobalOptions } from './context.js';

export function registerReevaluate(cli: Command): void {
  cli
    .command('reevaluate')
    .description(
      'score the production versions on the labelled rows that arrived after their training window, with the ' +
        "gate's value thresholds, and check their age; a version that fails is retired, its servers are taken " +
        'away (never the last healthy one), the alert sinks are told, and a new model is trained (retirement.retrain). ' +
        'Exit code 4 when a version was retired',
    )
    .option('--as-of <date>', 'judge on rows up to this day, YYYY-MM-DD (default data.window.as_of)')
    .option('--no-retrain', 'retire, but do not train a replacement')
    .option('--run-id <id>', 'name the run (its folder holds the fresh data and reevaluation.json)')
    .action(async (opts: { asOf?: string; retrain: boolean; runId?: string }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>(), opts.runId);
      const result = await reevaluate(ctx, { asOf: opts.asOf, retrain: opts.retrain && ctx.config.retirement.retrain });
      const lines = result.verdicts.map((v) => {
        const what = v.retired ? `retired: ${v.retired.reason}` : v.skipped ? `not judged: ${v.skipped}` : `fit on ${v.rows} fresh rows`;
        const scores = (v.rules ?? [])
          .filter((r) => r.scope === 'all' && r.value !== null)
          .map((r) => `${r.metric} ${r.value!.toFixed(3)}`);
        return `${v.version.padEnd(6)} ${what}${v.retired || !scores.length ? '' : ` (${[...new Set(scores)].join(', ')})`}`;
      });
      if (result.servers?.replacedBy) lines.push(`${result.servers.replacedBy.version} now serves in place of the retired`);
      if (result.retrain) lines.push(`retraining: ${result.retrain}`);
      process.stdout.write(`${lines.join('\n') || 'nothing in production to re-evaluate'}\n`);
      const retired = result.verdicts.filter((v) => v.retired).map((v) => v.version);
      if (retired.length) throw new MlopsError('quality', `${retired.join(', ')} retired`, { hint: 'see the verdicts above' });
    });
}
