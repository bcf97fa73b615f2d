import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadIntoPostgres } from '../data/load-postgres.js';
import { synth } from '../data/synth.js';
import { configError } from '../errors.js';
import { registerSecret } from '../secrets.js';
import { createProgress } from '../progress.js';
import { cliEnv } from './context.js';

const positiveInt = (what: string) => (value: string) => {
  const n = Number(value.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a positive whole number.`);
  return n;
};

export function registerData(cli: Command): void {
  const data = cli.command('data').description('sample and synthetic data');
  data
    .command('synth')
    .description('generate a seeded synthetic data set with realistic anomalies, plus a matching config')
    .requiredOption('--rows <n>', 'rows to generate', positiveInt('--rows'))
    .option('--seed <n>', 'random seed', positiveInt('--seed'), 42)
    .option('--out <dir>', 'output folder', 'synthetic')
    .addOption(new Option('--format <format>', 'file format').choices(['csv', 'parquet']).default('csv'))
    .action(async (opts: { rows: number; seed: number; out: string; format: 'csv' | 'parquet' }) => {
      const result = await synth({
        rows: opts.rows,
        seed: opts.seed,
        out: opts.out,
        format: opts.format,
        progress: createProgress({ ci: Boolean(cliEnv().CI) }),
      });
      process.stdout.write(`wrote ${result.file}\nconfig ${result.config}\ntry: npx mlops extract --config ${result.config}\n`);
    });

  data
    .command('load')
    .description('load a CSV or Parquet file into a PostgreSQL table (MLOPS_PG_URL), to try the postgres source')
    .argument('<file>', 'the data file, e.g. data/penguins_raw.csv')
    .requiredOption('--table <name>', 'the table to (re)create')
    .action(async (file: string, opts: { table: string }) => {
      const url = cliEnv().MLOPS_PG_URL;
      if (!url) throw configError('MLOPS_PG_URL is not set', 'set it to the PostgreSQL connection string');
      registerSecret(url);
      const n = await loadIntoPostgres(url, opts.table, file);
      process.stdout.write(`loaded ${n.toLocaleString('en-US')} rows into ${opts.table}\n`);
    });
}
