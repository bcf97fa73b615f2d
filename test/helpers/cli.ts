import { execFile, spawnSync } from 'node:child_process';

export interface CliResult {
  code: number | null;
  /** The signal that ended it, when one did. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const environment = (env: Record<string, string>) => ({ ...process.env, CI: 'true', ...env });

const run = (args: string[], env: Record<string, string> = {}): CliResult => {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: environment(env) });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
};

/** Runs the built CLI as a user would (`npm test` builds it first), with `env` added to the environment. */
export const mlopsWith = (env: Record<string, string>, ...args: string[]): CliResult => run(['bin/mlops.js', ...args], env);

export const mlops = (...args: string[]): CliResult => mlopsWith({}, ...args);

/** As `mlopsWith`, without blocking, and with `node` options first (`--import` a module that injects faults): for drivers that run several at once. */
export const mlopsAsync = (node: string[], env: Record<string, string>, ...args: string[]): Promise<CliResult> =>
  new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...node, 'bin/mlops.js', ...args],
      { env: environment(env), maxBuffer: 64 << 20 },
      (_err, stdout, stderr) => resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr }),
    );
  });

/** The CLI from its sources, as `bin/mlops.js` runs the built one: for tests that must not need a build. */
export const mlopsFromSources = (...args: string[]): CliResult => {
  const main = "import { main } from './src/cli/main.ts'; process.exitCode = await main(['node', 'mlops', ...process.argv.slice(1)]);";
  return run(['--import', 'tsx', '--input-type=module', '-e', main, '--', ...args]);
};
