import { Command, Option } from 'commander';
import { describeError, exitCode, exitCodes } from '../errors.js';
import { redact } from '../secrets.js';
import type { GlobalOptions } from './context.js';
import { registerData } from './data.js';
import { registerDeploy } from './deploy.js';
import { registerImage } from './image.js';
import { registerModels } from './models.js';
import { registerMonitor } from './monitor.js';
import { registerPipeline } from './pipeline.js';
import { registerPredict } from './predict.js';
import { registerProxy } from './proxy.js';
import { registerReevaluate } from './reevaluate.js';
import { registerServe } from './serve.js';

export function program(): Command {
  const cli = new Command('mlops')
    .description('Scheduled, self-releasing machine learning: extract, train, evaluate, gate, release.')
    .addOption(new Option('-c, --config <file>', 'the pipeline config').default('mlops.config.yaml').env('MLOPS_CONFIG'))
    .addOption(
      new Option('--log-format <format>', 'text for people, json for log shippers').choices(['text', 'json']).env('MLOPS_LOG_FORMAT'),
    )
    .option('--debug', 'show debug logs and stack traces')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();
  registerPipeline(cli);
  registerServe(cli);
  registerProxy(cli);
  registerImage(cli);
  registerDeploy(cli);
  registerModels(cli);
  registerReevaluate(cli);
  registerMonitor(cli);
  registerPredict(cli);
  registerData(cli);
  return cli;
}

/** Runs the CLI; returns the exit code. One clear line on failure, a stack trace only with --debug. */
export async function main(argv: string[]): Promise<number> {
  const cli = program();
  try {
    await cli.parseAsync(argv);
    return 0;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code?.startsWith('commander.')) {
      // Commander has printed the help or the usage error already.
      return code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help' ? 0 : exitCodes.config;
    }
    process.stderr.write(redact(describeError(err)) + '\n');
    if (cli.opts<GlobalOptions>().debug && err instanceof Error) process.stderr.write(redact(err.stack ?? '') + '\n');
    return exitCode(err);
  }
}
