import { spawnSync } from 'node:child_process';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const run = (args: string[], env: Record<string, string> = {}): CliResult => {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, CI: 'true', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** Runs the built CLI as a user would (`npm test` builds it first), with `env` added to the environment. */
export const mlopsWith = (env: Record<string, string>, ...args: string[]): CliResult => run(['bin/mlops.js', ...args], env);

export const mlops = (...args: string[]): CliResult => mlopsWith({}, ...args);

/** The CLI from its sources, as `bin/mlops.js` runs the built one: for tests that must not need a build. */
export const mlopsFromSources = (...args: string[]): CliResult => {
  const main = "import { main } from './src/cli/main.ts'; process.exitCode = await main(['node', 'mlops', ...process.argv.slice(1)]);";
  return run(['--import', 'tsx', '--input-type=module', '-e', main, '--', ...args]);
};
