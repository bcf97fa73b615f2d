import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlopsWith } from '../helpers/cli.js';
import { forkRemote, git } from '../helpers/git-remote.js';
import { freePort } from '../helpers/ports.js';

let root: string;
let config: string;

/** The registry on a branch of the checkout, as a workflow keeps it; no global git config (no identity, no credential helper). */
const onBranch = { MLOPS_REGISTRY_BACKEND: 'git-branch', GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

/** The git commands a CLI command ran (GIT_TRACE), each as its arguments after `git`. */
async function gitCommands(env: Record<string, string>, ...args: string[]): Promise<string[]> {
  const trace = join(root, `trace-${args[0]}.log`);
  const { code, stderr } = mlopsWith({ ...onBranch, ...env, GIT_TRACE: trace }, ...args, '--config', config);
  expect(code, stderr).toBe(0);
  return (await readFile(trace, 'utf8'))
    .split('\n')
    .map((line) => /trace: built-in: git (.*)$/.exec(line)?.[1])
    .filter((command): command is string => command !== undefined);
}

describe('one mlops deploy on the git-branch registry', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-git-deploy-'));
    await git(root, 'clone', '--quiet', await forkRemote(root), 'checkout');
    config = join(root, 'checkout', 'mlops.config.yaml');
    const first = await freePort();
    const text = (await readFile('mlops.config.yaml', 'utf8'))
      .replaceAll("'data/penguins_raw.csv'", `'${join(process.cwd(), 'data/penguins_raw.csv')}'`)
      .replace('proxy: { port: 8000,', `proxy: { port: ${await freePort()},`)
      .replace('ports: [8100, 8199]', `ports: [${first}, ${first + 50}]`);
    await writeFile(config, text);
    const run = mlopsWith({ ...onBranch, MLOPS_DEPLOY_TARGET: 'none' }, 'run', '--config', config, '--run-id', 'one');
    expect(run.code, run.stderr).toBe(0);
  }, 300_000);
  afterAll(async () => {
    mlopsWith(onBranch, 'undeploy', '--config', config);
    await rm(root, { recursive: true, force: true });
  });

  it('opens the registry once, and fetches the branch once per read or write it needs', async () => {
    const commands = await gitCommands({}, 'deploy');
    // Opening the store sets up its working copy and checks the remote, once for the whole command.
    expect(commands.filter((c) => c.startsWith('remote get-url'))).toHaveLength(1);
    // Every read and write starts from the remote's head: the champion's manifest, whether it is
    // retired, its files for the new server, the promotion and the deploy's tags.
    expect(commands.filter((c) => c.startsWith('fetch '))).toHaveLength(5);
  }, 120_000);
});
